namespace Sentinel.Rules;

/// <summary>
/// Counts hits per key within a sliding time window, e.g. "5 failed calls by one process within 10 s".
/// Times are the events' own (<c>e.TimeUnixNs</c>), so a replay gives the same answer as the live run.
/// Memory is bounded: each key keeps at most <c>threshold</c> timestamps, and at most <c>maxKeys</c> keys
/// are tracked (expired keys go first, then the least recently hit).
/// </summary>
public sealed class SlidingWindow<TKey> where TKey : notnull
{
    private readonly Dictionary<TKey, Hits> _keys = new();
    private readonly long _windowNs;
    private readonly int _threshold;
    private readonly int _maxKeys;

    public SlidingWindow(int threshold, TimeSpan window, int maxKeys = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxKeys, 1);
        _threshold = threshold;
        _windowNs = window.Ticks * 100;
        _maxKeys = maxKeys;
    }

    public int Threshold => _threshold;
    public TimeSpan Window => TimeSpan.FromTicks(_windowNs / 100);
    public int TrackedKeys => _keys.Count;

    /// <summary>
    /// Records a hit for <paramref name="key"/> at <paramref name="timeUnixNs"/>. Returns true when this hit
    /// makes <see cref="Threshold"/> hits within the window ending at the key's latest hit; the key then starts
    /// counting afresh, so a long burst fires once per <see cref="Threshold"/> hits. Hits may come out of time
    /// order: each takes its place by time, and one older than that window is ignored.
    /// </summary>
    public bool Record(TKey key, long timeUnixNs)
    {
        if (!_keys.TryGetValue(key, out var hits))
        {
            if (_keys.Count >= _maxKeys) Evict(timeUnixNs);
            hits = new Hits(_threshold);
            _keys[key] = hits;
        }
        // Events can arrive slightly out of time order (a fold waits on its CPU while other CPUs' calls go
        // ahead), so the window ends at the latest hit seen, and an older hit takes its place in time order.
        var end = Math.Max(hits.Last, timeUnixNs);
        hits.Expire(end - _windowNs);
        if (timeUnixNs <= end - _windowNs) return false; // older than the window: it cannot complete a burst
        hits.Add(timeUnixNs);
        if (hits.Count < _threshold) return false;
        hits.Clear();
        return true;
    }

    /// <summary>Hits per second of <paramref name="key"/> over the window ending at <paramref name="timeUnixNs"/>
    /// (counting at most <see cref="Threshold"/> hits).</summary>
    public double Rate(TKey key, long timeUnixNs) => Count(key, timeUnixNs) / Window.TotalSeconds;

    /// <summary>The hits of <paramref name="key"/> within the window ending at <paramref name="timeUnixNs"/>.</summary>
    public int Count(TKey key, long timeUnixNs)
    {
        if (!_keys.TryGetValue(key, out var hits)) return 0;
        hits.Expire(timeUnixNs - _windowNs);
        return hits.Count;
    }

    private void Evict(long now)
    {
        TKey? oldestKey = default;
        var oldest = long.MaxValue;
        List<TKey>? expired = null;
        foreach (var (key, hits) in _keys)
        {
            if (hits.Last <= now - _windowNs) (expired ??= []).Add(key);
            else if (hits.Last < oldest) (oldest, oldestKey) = (hits.Last, key);
        }
        if (expired is not null)
            foreach (var key in expired) _keys.Remove(key);
        else if (oldestKey is not null)
            _keys.Remove(oldestKey);
    }

    /// <summary>A ring of the latest hit times of one key, oldest first.</summary>
    private sealed class Hits(int capacity)
    {
        private readonly long[] _times = new long[capacity];
        private int _start, _count;

        public int Count => _count;
        public long Last => _count == 0 ? long.MinValue : _times[(_start + _count - 1) % _times.Length];

        /// <summary>Adds a hit in time order (at the end, unless it is older than the latest); a full ring drops its oldest.</summary>
        public void Add(long time)
        {
            if (_count == _times.Length)
            {
                if (time <= _times[_start]) return; // older than every kept hit: the ring keeps the latest
                _start = (_start + 1) % _times.Length;
                _count--;
            }
            var i = _count++;
            for (; i > 0 && _times[(_start + i - 1) % _times.Length] > time; i--)
                _times[(_start + i) % _times.Length] = _times[(_start + i - 1) % _times.Length];
            _times[(_start + i) % _times.Length] = time;
        }

        public void Expire(long cutoff)
        {
            while (_count > 0 && _times[_start] <= cutoff) { _start = (_start + 1) % _times.Length; _count--; }
        }

        public void Clear() => _start = _count = 0;
    }
}
