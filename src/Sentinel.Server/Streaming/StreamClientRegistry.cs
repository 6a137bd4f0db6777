using Google.Protobuf.WellKnownTypes;
using Sentinel.V1;

namespace Sentinel.Server.Streaming;

/// <summary>One connected streaming client, as GetStatus and the metrics show it.</summary>
public sealed class StreamClientEntry
{
    private long _sent, _dropped, _lastSequence;

    internal StreamClientEntry(ulong id, StreamKind kind, string peer, string identity)
    {
        Id = id; Kind = kind; Peer = peer; Identity = identity;
    }

    public ulong Id { get; }
    public StreamKind Kind { get; }
    public string Peer { get; }
    public string Identity { get; }
    public DateTimeOffset ConnectedAt { get; } = DateTimeOffset.UtcNow;
    public long Sent => Interlocked.Read(ref _sent);
    public long Dropped => Interlocked.Read(ref _dropped);
    public ulong LastSequence => (ulong)Interlocked.Read(ref _lastSequence);

    public void AddSent(int count = 1) => Interlocked.Add(ref _sent, count);
    internal void AddDropped() => Interlocked.Increment(ref _dropped);
    public void SetLastSequence(ulong sequence) => Interlocked.Exchange(ref _lastSequence, (long)sequence);

    public V1.StreamClient ToProto() => new()
    {
        Id = Id, Kind = Kind, Peer = Peer, Identity = Identity, ConnectedAt = Timestamp.FromDateTimeOffset(ConnectedAt),
        Sent = (ulong)Sent, Dropped = (ulong)Dropped, LastSequence = LastSequence,
    };
}

/// <summary>The live streaming clients, plus totals that outlive them (for counters).</summary>
public sealed class StreamClientRegistry : IAgentStatusContributor
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, StreamClientEntry> _clients = [];
    private ulong _nextId;
    private long _droppedTotal, _retiredSent;

    public long DroppedEventsTotal => Interlocked.Read(ref _droppedTotal);

    public StreamClientEntry Add(StreamKind kind, string peer, string identity)
    {
        lock (_lock)
        {
            var entry = new StreamClientEntry(++_nextId, kind, peer, identity);
            _clients.Add(entry.Id, entry);
            return entry;
        }
    }

    public void Remove(StreamClientEntry entry)
    {
        lock (_lock)
            if (_clients.Remove(entry.Id)) _retiredSent += entry.Sent;
    }

    internal void CountDrop(StreamClientEntry entry)
    {
        entry.AddDropped();
        Interlocked.Increment(ref _droppedTotal);
    }

    public IReadOnlyList<StreamClientEntry> Snapshot()
    {
        lock (_lock) return _clients.Values.ToArray();
    }

    public void Contribute(AgentStatus status) => status.Clients.Add(Snapshot().Select(c => c.ToProto()));
}
