using System.Collections.Concurrent;

namespace Sentinel.Events;

/// <summary>Recycles events between the decoder and the pipeline so the steady state allocates nothing.</summary>
public sealed class EventPool(int maxRetained = 4096)
{
    private readonly ConcurrentBag<MovePagesEvent> _free = new();

    public MovePagesEvent Rent() => _free.TryTake(out var evt) ? evt : new MovePagesEvent();

    public void Return(MovePagesEvent evt)
    {
        if (_free.Count >= maxRetained) return;
        evt.Reset();
        _free.Add(evt);
    }
}
