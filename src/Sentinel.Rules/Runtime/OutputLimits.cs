using System.Globalization;

namespace Sentinel.Rules.Runtime;

/// <summary>
/// What one rule may emit: the size of each finding, and how many detections per second (a token bucket on
/// the events' own clock, so a replay limits exactly as the live run did).
/// </summary>
public sealed record OutputLimits
{
    /// <summary>The longest message, in characters; a longer one is cut and says so.</summary>
    public int MaxMessageChars { get; init; } = 4096;
    /// <summary>The most fields per finding; the rest are dropped and counted.</summary>
    public int MaxFields { get; init; } = 32;
    public int MaxFieldNameChars { get; init; } = 64;
    public int MaxFieldValueChars { get; init; } = 1024;
    /// <summary>Detections per second a rule may emit, sustained.</summary>
    public double DetectionsPerSecond { get; init; } = 1000;
    /// <summary>Detections a rule may emit at once before the rate applies.</summary>
    public int Burst { get; init; } = 10_000;
    /// <summary>How often, at most, the detections held back are reported in one summary detection.</summary>
    public TimeSpan SummaryInterval { get; init; } = TimeSpan.FromSeconds(1);

    public static OutputLimits Default { get; } = new();

    /// <summary>The marker a cut message or value ends with.</summary>
    public const string TruncationMarker = "…[truncated ";

    internal string Message(string message) => Cut(message, MaxMessageChars);

    /// <summary>The fields within the limits, or the same dictionary when they already are (the usual case).</summary>
    internal IReadOnlyDictionary<string, string> Fields(IReadOnlyDictionary<string, string> fields)
    {
        if (fields.Count <= MaxFields && fields.All(f => f.Key.Length <= MaxFieldNameChars && f.Value.Length <= MaxFieldValueChars))
            return fields;
        var bounded = new Dictionary<string, string>(Math.Min(fields.Count, MaxFields) + 1, StringComparer.Ordinal);
        foreach (var (key, value) in fields)
        {
            if (bounded.Count == MaxFields) break;
            bounded.TryAdd(Cut(key, MaxFieldNameChars), Cut(value, MaxFieldValueChars));
        }
        if (fields.Count > MaxFields)
            bounded["fields_truncated"] = (fields.Count - MaxFields).ToString(CultureInfo.InvariantCulture);
        return bounded;
    }

    private static string Cut(string text, int max) =>
        text.Length <= max ? text : string.Concat(text.AsSpan(0, max), TruncationMarker, text.Length.ToString(CultureInfo.InvariantCulture), " chars]");
}

/// <summary>
/// One rule's detection rate: a token bucket refilled on the events' clock. What it holds back is counted,
/// with the first and last time, and reported in one summary detection per interval.
/// </summary>
internal sealed class DetectionRateLimiter(OutputLimits limits)
{
    private readonly double _tokensPerNs = limits.DetectionsPerSecond / 1e9;
    private readonly long _intervalNs = limits.SummaryInterval.Ticks * 100;
    private double _tokens = limits.Burst;
    private long _lastNs = long.MinValue;

    public long Suppressed { get; private set; }
    public long TotalSuppressed { get; private set; }
    public long FirstSuppressedNs { get; private set; }
    public long LastSuppressedNs { get; private set; }

    /// <summary>Takes a token for one detection at <paramref name="nowNs"/>; false means it is held back (and counted).</summary>
    public bool TryTake(long nowNs)
    {
        if (_lastNs != long.MinValue && nowNs > _lastNs)
            _tokens = Math.Min(limits.Burst, _tokens + (nowNs - _lastNs) * _tokensPerNs);
        if (nowNs > _lastNs) _lastNs = nowNs;
        if (_tokens >= 1)
        {
            _tokens--;
            return true;
        }
        if (Suppressed == 0) FirstSuppressedNs = nowNs;
        Suppressed++;
        TotalSuppressed++;
        LastSuppressedNs = nowNs;
        return false;
    }

    /// <summary>Whether a summary is due at <paramref name="nowNs"/>: detections were held back an interval ago or more.</summary>
    public bool SummaryDue(long nowNs) => Suppressed > 0 && nowNs - FirstSuppressedNs >= _intervalNs;

    /// <summary>Starts a new count; returns the one being closed.</summary>
    public (long Count, long FirstNs, long LastNs) TakeSummary()
    {
        var summary = (Suppressed, FirstSuppressedNs, LastSuppressedNs);
        Suppressed = 0;
        return summary;
    }
}
