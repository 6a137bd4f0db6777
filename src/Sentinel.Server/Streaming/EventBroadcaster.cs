using System.Threading.Channels;
using Sentinel.Contracts;
using Sentinel.Events;

namespace Sentinel.Server.Streaming;

/// <summary>
/// Fans raw events out to StreamEvents clients. Each client has its own bounded buffer that drops its oldest event
/// when full, so the pipeline never waits for a client and a stalled one costs only itself.
/// </summary>
public sealed class EventBroadcaster(StreamClientRegistry registry) : IEventObserver
{
    private readonly Lock _lock = new();
    private volatile EventSubscription[] _subscriptions = [];

    public int SubscriberCount => _subscriptions.Length;

    /// <summary>On the pipeline's thread. Converts only with subscribers, once per event for every consumer, then never blocks.</summary>
    public void OnEvent(MovePagesEvent evt)
    {
        var subscriptions = _subscriptions;
        if (subscriptions.Length == 0) return;
        // Detached from the pooled event (reused after we return), and shared with the event outputs and the journal.
        var proto = EventConverter.Shared(evt);
        foreach (var subscription in subscriptions)
            subscription.Offer(proto);
    }

    public EventSubscription Subscribe(StreamClientEntry client, int capacity)
    {
        var subscription = new EventSubscription(this, client, capacity);
        lock (_lock) _subscriptions = [.. _subscriptions, subscription];
        return subscription;
    }

    internal void Unsubscribe(EventSubscription subscription)
    {
        lock (_lock) _subscriptions = _subscriptions.Where(s => s != subscription).ToArray();
    }

    public sealed class EventSubscription : IDisposable
    {
        private readonly EventBroadcaster _owner;
        private readonly Channel<V1.Event> _buffer;

        internal EventSubscription(EventBroadcaster owner, StreamClientEntry client, int capacity)
        {
            _owner = owner;
            Client = client;
            _buffer = Channel.CreateBounded<V1.Event>(
                new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true },
                _ => owner.Registry.CountDrop(client));
        }

        public StreamClientEntry Client { get; }
        public ChannelReader<V1.Event> Reader => _buffer.Reader;

        internal void Offer(V1.Event evt) => _buffer.Writer.TryWrite(evt);

        public void Dispose()
        {
            _owner.Unsubscribe(this);
            _buffer.Writer.TryComplete();
        }
    }

    internal StreamClientRegistry Registry => registry;
}
