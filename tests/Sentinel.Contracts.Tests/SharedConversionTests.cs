using Sentinel.Events;

namespace Sentinel.Contracts.Tests;

/// <summary>
/// EventConverter.Shared: one V1.Event per event for all its consumers, and never a previous event's once a pooled
/// event is reused.
/// </summary>
public sealed class SharedConversionTests
{
    private static void Fill(MovePagesEvent e, int tid)
    {
        e.TimeUnixNs = 1_764_000_000_000_000_000 + tid;
        e.Pid = 4242; e.Tid = tid; e.Comm = "prober"; e.Flags = 4; e.ReturnValue = -1;
    }

    [Fact]
    public void Every_consumer_of_an_event_and_of_its_snapshot_gets_the_one_conversion()
    {
        var counts = ConversionCounter.Track();
        var evt = new MovePagesEvent();
        Fill(evt, 7);

        var first = EventConverter.Shared(evt);
        Assert.Same(first, EventConverter.Shared(evt));
        // The rule engine's detached snapshot describes the same content, so it shares the conversion too.
        var snapshot = evt.Clone();
        Assert.Same(first, EventConverter.Shared(snapshot));
        var detection = new Detection { Rule = new RuleInfo { Id = "SNT-0002", Version = "1", Name = "n" }, Time = evt.Time, Message = "m", Event = snapshot };
        Assert.Same(first, DetectionConverter.ToProtoSharingEvent(detection).Event);
        Assert.Same(first, DetectionConverter.ToProtoSharingEvent(detection).Event);
        Assert.Equal(1, counts.Events);

        Assert.Equal(EventConverter.ToProto(evt), first);
        // ToProto stays a copy the caller owns: modifying it cannot reach the shared one.
        var owned = DetectionConverter.ToProto(detection);
        Assert.NotSame(first, owned.Event);
        owned.Event.Context.Comm = "changed";
        Assert.Equal("prober", EventConverter.Shared(evt).Context.Comm);
    }

    [Fact]
    public void A_pooled_event_reused_for_the_next_call_is_converted_afresh_and_the_old_conversion_stays_as_it_was()
    {
        var pool = new EventPool();
        var evt = pool.Rent();
        Fill(evt, 1);
        var first = EventConverter.Shared(evt);
        pool.Return(evt);

        var reused = pool.Rent();
        Assert.Same(evt, reused);
        Fill(reused, 2);
        var second = EventConverter.Shared(reused);
        Assert.NotSame(first, second);
        Assert.Equal(2, second.Context.Tid);
        Assert.Equal(1, first.Context.Tid); // a stream still holding the first event sends it unchanged
        Assert.Equal(EventConverter.ToProto(reused), second);
    }

    [Fact]
    public void Copying_or_parsing_into_an_event_replaces_its_conversion()
    {
        var a = new MovePagesEvent();
        Fill(a, 1);
        var b = new MovePagesEvent();
        Fill(b, 2);
        var convertedB = EventConverter.Shared(b);

        a.CopyTo(b);
        Assert.Equal(1, EventConverter.Shared(b).Context.Tid);
        Assert.NotSame(convertedB, EventConverter.Shared(b));

        var c = new MovePagesEvent();
        Fill(c, 3);
        EventConverter.Shared(c);
        EventJson.Parse(EventJson.Format(b), c);
        Assert.Equal(1, EventConverter.Shared(c).Context.Tid);
    }

    [Fact]
    public async Task Nothing_is_counted_for_a_flow_that_does_not_track()
    {
        var counts = ConversionCounter.Track();
        var evt = new MovePagesEvent();
        Fill(evt, 1);
        // Another flow (a test beside this one) converting does not count here.
        await Task.Run(() =>
        {
            ConversionCounter.Track();
            EventConverter.ToProto(evt);
        });
        Assert.Equal(0, counts.Events);
        EventConverter.ToProto(evt);
        await Task.Run(() => EventConverter.ToProto(evt)); // a task this flow starts counts into it
        Assert.Equal(2, counts.Events);
    }
}
