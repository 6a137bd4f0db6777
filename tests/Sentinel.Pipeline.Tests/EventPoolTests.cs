using Sentinel.Events;

namespace Sentinel.Pipeline.Tests;

public sealed class EventPoolTests
{
    [Fact]
    public void A_returned_event_is_reset_and_rented_again()
    {
        var pool = new EventPool();
        var evt = pool.Rent();
        evt.Pid = 42;
        evt.TargetPid = 7;
        pool.Return(evt);

        var again = pool.Rent();
        Assert.Same(evt, again);
        Assert.Equal((0, 0), (again.Pid, again.TargetPid));
        Assert.Equal(0, pool.Retained);
    }

    [Fact]
    public void The_pool_keeps_at_most_its_bound_and_drops_the_rest()
    {
        var pool = new EventPool(maxRetained: 8);
        var events = Enumerable.Range(0, 20).Select(_ => new MovePagesEvent()).ToList();
        foreach (var e in events) pool.Return(e);

        Assert.Equal(8, pool.Retained);
        var rented = Enumerable.Range(0, 8).Select(_ => pool.Rent()).ToList();
        Assert.Equal(events.Take(8), rented); // first in, first out
        Assert.DoesNotContain(pool.Rent(), events); // empty: a new one
    }

    [Fact]
    public void One_thread_renting_and_another_returning_lose_nothing_and_share_no_event()
    {
        const int rounds = 200_000;
        var pool = new EventPool(maxRetained: 64);
        var handOff = new System.Collections.Concurrent.BlockingCollection<MovePagesEvent>(boundedCapacity: 32);
        var inFlight = new System.Collections.Concurrent.ConcurrentDictionary<MovePagesEvent, byte>(ReferenceEqualityComparer.Instance);
        var renter = Task.Run(() =>
        {
            for (var i = 0; i < rounds; i++)
            {
                var evt = pool.Rent();
                Assert.True(inFlight.TryAdd(evt, 0), "an event was rented while still in use");
                evt.Pid = i + 1;
                handOff.Add(evt);
            }
            handOff.CompleteAdding();
        });
        var returned = 0;
        foreach (var evt in handOff.GetConsumingEnumerable())
        {
            Assert.True(inFlight.TryRemove(evt, out _));
            returned++;
            pool.Return(evt);
        }
        renter.GetAwaiter().GetResult();

        Assert.Equal(rounds, returned);
        Assert.InRange(pool.Retained, 1, 64);
    }
}
