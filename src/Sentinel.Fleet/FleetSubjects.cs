namespace Sentinel.Fleet;

/// <summary>The NATS subjects of the fleet contract (docs/FLEET.md). Host ids are single subject tokens.</summary>
public static class FleetSubjects
{
    public const string DetectionsPrefix = "sentinel.v1.detections.";
    public const string HeartbeatPrefix = "sentinel.v1.heartbeat.";

    /// <summary>Every host's detections: the subject filter of the detections stream.</summary>
    public const string AllDetections = DetectionsPrefix + ">";
    public const string AllHeartbeats = HeartbeatPrefix + "*";

    /// <summary>Detections the gateways raise about the fleet itself (SNT-F001 agent went silent / back).</summary>
    public const string FleetHostId = "_fleet";

    public static string Detections(string hostId) => DetectionsPrefix + hostId;
    public static string Heartbeat(string hostId) => HeartbeatPrefix + hostId;

    /// <summary>The host id in a detections or heartbeat subject, or null when the subject is not one of ours.</summary>
    public static string? HostOf(string subject)
    {
        foreach (var prefix in (ReadOnlySpan<string>)[DetectionsPrefix, HeartbeatPrefix])
            if (subject.StartsWith(prefix, StringComparison.Ordinal) && subject.Length > prefix.Length && subject.IndexOf('.', prefix.Length) < 0)
                return subject[prefix.Length..];
        return null;
    }

    /// <summary>The Nats-Msg-Id of a journaled detection: a retry or a restart republishes the same id and JetStream drops it.</summary>
    public static string MessageId(string journalId, ulong agentSequence) => $"{journalId}:{agentSequence}";
}
