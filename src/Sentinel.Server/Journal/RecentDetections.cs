namespace Sentinel.Server.Journal;

/// <summary>
/// The last committed detections, contiguous by sequence, so live followers read from memory instead of SQLite.
/// Holds only committed detections: anything here is already durable.
/// </summary>
internal sealed class RecentDetections(int capacity)
{
    private readonly JournalEntry[] _ring = new JournalEntry[capacity];
    private readonly Lock _lock = new();
    private ulong _first = 1, _last; // the cached range [_first, _last]; empty when _last < _first

    public void Add(IReadOnlyList<JournalEntry> committed)
    {
        lock (_lock)
        {
            foreach (var d in committed)
            {
                if (_last < _first || d.Sequence != _last + 1) _first = d.Sequence; // first entry, or a restart of the range
                _ring[d.Sequence % (ulong)_ring.Length] = d;
                _last = d.Sequence;
                if (_last - _first + 1 > (ulong)_ring.Length) _first = _last - (ulong)_ring.Length + 1;
            }
        }
    }

    /// <summary>Drops everything at or below <paramref name="sequence"/> (pruned from the journal).</summary>
    public void TrimThrough(ulong sequence)
    {
        lock (_lock)
            if (sequence >= _first) _first = sequence + 1;
    }

    /// <summary>Copies up to <paramref name="max"/> detections after <paramref name="after"/>; false if they are not all here.</summary>
    public bool TryRead(ulong after, int max, List<JournalEntry> into)
    {
        lock (_lock)
        {
            if (_last < _first || after + 1 < _first || after >= _last) return false;
            for (var seq = after + 1; seq <= _last && into.Count < max; seq++)
                into.Add(_ring[seq % (ulong)_ring.Length]);
            return true;
        }
    }
}
