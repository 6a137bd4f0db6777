namespace Sentinel.Rules;

/// <summary>
/// Sums a value per key over a sliding time window, e.g. "more than 1000 queried pages per process within
/// 60 s". Times are the events' own (<c>e.TimeUnixNs</c>), so a replay gives the same answer as the live run.
/// The window is kept as 60 buckets, so it slides in steps of 1/60 of its length; memory is bounded by
/// <c>maxKeys</c> (the least recently updated key goes first).
/// </summary>
public sealed class SlidingSum<TKey> where TKey : notnull
{
    private const int Buckets = 60;
    private readonly KeyTable<TKey, Ring> _keys;
    private readonly long _windowNs;
    private readonly long _bucketNs;

    /// <param name="window">How far back a value counts.</param>
    /// <param name="maxKeys">The most keys tracked at once.</param>
    public SlidingSum(TimeSpan window, int maxKeys = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.FromMilliseconds(1));
        _windowNs = window.Ticks * 100;
        _bucketNs = Math.Max(1, _windowNs / Buckets);
        _keys = new KeyTable<TKey, Ring>(maxKeys, () => new Ring());
    }

    /// <summary>The length of the window.</summary>
    public TimeSpan Window => TimeSpan.FromTicks(_windowNs / 100);

    /// <summary>How many keys are tracked now.</summary>
    public int TrackedKeys => _keys.Count;

    /// <summary>Adds <paramref name="value"/> for <paramref name="key"/> at <paramref name="timeUnixNs"/>;
    /// returns the key's sum within the window ending then, this value included.</summary>
    public double Add(TKey key, long timeUnixNs, double value)
    {
        var ring = _keys.GetOrAdd(key, timeUnixNs);
        var bucket = timeUnixNs / _bucketNs;
        var slot = (int)(bucket % Buckets);
        if (ring.Bucket[slot] != bucket) (ring.Bucket[slot], ring.Sum[slot]) = (bucket, 0);
        ring.Sum[slot] += value;
        return Total(ring, bucket);
    }

    /// <summary>The key's sum within the window ending at <paramref name="timeUnixNs"/>.</summary>
    public double Sum(TKey key, long timeUnixNs) =>
        _keys.TryGet(key, out var ring) ? Total(ring, timeUnixNs / _bucketNs) : 0;

    /// <summary>The key's sum per second over the window ending at <paramref name="timeUnixNs"/>.</summary>
    public double Rate(TKey key, long timeUnixNs) => Sum(key, timeUnixNs) / Window.TotalSeconds;

    private static double Total(Ring ring, long bucket)
    {
        var total = 0.0;
        for (var i = 0; i < Buckets; i++)
            if (ring.Bucket[i] > bucket - Buckets && ring.Bucket[i] <= bucket) total += ring.Sum[i];
        return total;
    }

    private sealed class Ring
    {
        public readonly long[] Bucket = Enumerable.Repeat(long.MinValue, Buckets).ToArray();
        public readonly double[] Sum = new double[Buckets];
    }
}

/// <summary>
/// Counts the distinct values per key within a sliding time window, e.g. "one process called move_pages on
/// more than 20 different pids within 10 s". Memory is bounded: at most <c>maxValuesPerKey</c> values per
/// key (the least recently seen goes first) and <c>maxKeys</c> keys.
/// </summary>
public sealed class SlidingDistinct<TKey, TValue> where TKey : notnull where TValue : notnull
{
    private readonly KeyTable<TKey, Dictionary<TValue, long>> _keys;
    private readonly long _windowNs;
    private readonly int _maxValues;

    /// <param name="window">How far back a value counts.</param>
    /// <param name="maxValuesPerKey">The most distinct values remembered per key.</param>
    /// <param name="maxKeys">The most keys tracked at once.</param>
    public SlidingDistinct(TimeSpan window, int maxValuesPerKey = 1024, int maxKeys = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxValuesPerKey, 1);
        _windowNs = window.Ticks * 100;
        _maxValues = maxValuesPerKey;
        _keys = new KeyTable<TKey, Dictionary<TValue, long>>(maxKeys, () => new Dictionary<TValue, long>());
    }

    /// <summary>The length of the window.</summary>
    public TimeSpan Window => TimeSpan.FromTicks(_windowNs / 100);

    /// <summary>How many keys are tracked now.</summary>
    public int TrackedKeys => _keys.Count;

    /// <summary>Records <paramref name="value"/> for <paramref name="key"/>; returns how many distinct values the
    /// key had within the window ending at <paramref name="timeUnixNs"/>, this one included.</summary>
    public int Add(TKey key, TValue value, long timeUnixNs)
    {
        var values = _keys.GetOrAdd(key, timeUnixNs);
        Expire(values, timeUnixNs);
        if (!values.ContainsKey(value) && values.Count >= _maxValues)
            values.Remove(values.MinBy(v => v.Value).Key);
        values[value] = timeUnixNs;
        return values.Count;
    }

    /// <summary>How many distinct values <paramref name="key"/> had within the window ending at <paramref name="timeUnixNs"/>.</summary>
    public int Count(TKey key, long timeUnixNs)
    {
        if (!_keys.TryGet(key, out var values)) return 0;
        Expire(values, timeUnixNs);
        return values.Count;
    }

    private void Expire(Dictionary<TValue, long> values, long now)
    {
        foreach (var (value, seen) in values)
            if (seen <= now - _windowNs) values.Remove(value);
    }
}

/// <summary>Per-key state with a bound on the number of keys: the least recently used key is evicted.</summary>
internal sealed class KeyTable<TKey, TState>(int maxKeys, Func<TState> create) where TKey : notnull
{
    private readonly Dictionary<TKey, (TState State, long Used)> _entries = new();

    public int Count => _entries.Count;

    public TState GetOrAdd(TKey key, long now)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            _entries[key] = (entry.State, now);
            return entry.State;
        }
        if (_entries.Count >= Math.Max(1, maxKeys)) _entries.Remove(_entries.MinBy(e => e.Value.Used).Key);
        var state = create();
        _entries[key] = (state, now);
        return state;
    }

    public bool TryGet(TKey key, out TState state)
    {
        var found = _entries.TryGetValue(key, out var entry);
        state = entry.State;
        return found;
    }
}
