namespace Sentinel.Fleet.Export;

/// <summary>What `sentinel run --nats ...` sets up beyond the connection: the stream it provisions and the heartbeat.</summary>
public sealed record ExportOptions
{
    public static readonly TimeSpan DefaultHeartbeatInterval = TimeSpan.FromSeconds(5);

    /// <summary>Long enough that an agent restarted after a crash republishes inside it and JetStream drops the repeats.</summary>
    public static readonly TimeSpan DefaultDuplicateWindow = TimeSpan.FromMinutes(2);

    /// <summary>Replicas of the streams the agent creates (1 or 3 on a 3-node cluster).</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>Stream retention by age; null keeps messages until the size limit (or forever).</summary>
    public TimeSpan? MaxAge { get; init; }

    /// <summary>Stream retention by size; null is unbounded.</summary>
    public long? MaxBytes { get; init; }

    public TimeSpan DuplicateWindow { get; init; } = DefaultDuplicateWindow;

    public TimeSpan HeartbeatInterval { get; init; } = DefaultHeartbeatInterval;

    /// <summary>Publishes awaiting their ack at once: the pipelining depth.</summary>
    public int MaxInFlight { get; init; } = 1024;

    /// <summary>How long one publish waits for its ack before the exporter backs off and resumes from the cursor.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public void Validate()
    {
        if (Replicas is < 1 or > 5) throw new FleetConfigurationException($"--nats-replicas must be 1 to 5, not {Replicas}");
        if (MaxAge is { } age && age <= TimeSpan.Zero) throw new FleetConfigurationException("--nats-max-age must be positive");
        if (MaxBytes is { } bytes && bytes <= 0) throw new FleetConfigurationException("--nats-max-bytes must be positive");
        if (HeartbeatInterval < TimeSpan.FromMilliseconds(100) || HeartbeatInterval > TimeSpan.FromHours(1))
            throw new FleetConfigurationException("--heartbeat-interval must be between 0.1 and 3600 seconds");
        if (MaxInFlight < 1) throw new FleetConfigurationException("the export window must be at least 1");
    }
}
