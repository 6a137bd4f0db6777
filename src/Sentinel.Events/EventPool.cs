using System.Collections.Concurrent;

namespace Sentinel.Events;

/// <summary>Recycles events between the decoder and the pipeline so the steady state allocates nothing.</summary>
/// <remarks>
/// One thread rents (the decoder) and another returns (the pipeline), so a FIFO sits between them. A
/// ConcurrentBag made every rent a steal from the other thread's list, and its Count took all of its locks on
/// every return; here the bound is a counter. A ConcurrentQueue reuses its ring while the number of free events
/// stays within a segment, so cycling events through it allocates nothing.
/// </remarks>
public sealed class EventPool(int maxRetained = 4096)
{
    private readonly ConcurrentQueue<MovePagesEvent> _free = new();
    private int _retained;

    /// <summary>Events waiting to be rented (approximate while other threads rent and return).</summary>
    public int Retained => Volatile.Read(ref _retained);

    public MovePagesEvent Rent()
    {
        if (!_free.TryDequeue(out var evt)) return new MovePagesEvent();
        Interlocked.Decrement(ref _retained);
        return evt;
    }

    /// <summary>Resets <paramref name="evt"/> and keeps it for the next rent, unless the pool already holds its bound.</summary>
    public void Return(MovePagesEvent evt)
    {
        if (Interlocked.Increment(ref _retained) > maxRetained)
        {
            Interlocked.Decrement(ref _retained);
            return;
        }
        evt.Reset();
        _free.Enqueue(evt);
    }
}
