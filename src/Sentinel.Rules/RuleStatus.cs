namespace Sentinel.Rules;

/// <summary>A point-in-time view of one rule's counters, for GetStatus and the Prometheus metrics.</summary>
public sealed record RuleStatus
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Version { get; init; }
    public required string File { get; init; }
    public long Evaluations { get; init; }
    public long Detections { get; init; }
    public long Errors { get; init; }
    public string? LastError { get; init; }
    public bool Quarantined { get; init; }
    public string? QuarantineReason { get; init; }
    /// <summary>Why the latest edit of the file was rejected while this (previous) version keeps running.</summary>
    public string? ReloadError { get; init; }
    /// <summary>Mean and max of the sampled evaluation latencies, in ns.</summary>
    public double MeanLatencyNs { get; init; }
    public double MaxLatencyNs { get; init; }
    public long LatencySamples { get; init; }
    /// <summary>Detections held back by the rule's rate limit (each reported in a summary detection).</summary>
    public long RateLimited { get; init; }
}
