using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Sentinel.V1;

namespace Sentinel.Fleet.Gateway;

/// <summary>
/// The detections gateways raise about the fleet itself: SNT-F001 "agent went silent" and SNT-F002 "agent back".
/// Everything in them derives from the stored heartbeat, so every gateway builds the same message with the same
/// Nats-Msg-Id and the stream keeps one.
/// </summary>
public static class FleetEvents
{
    public const string SilentRuleId = "SNT-F001";
    public const string BackRuleId = "SNT-F002";
    public const string HostField = "agent.host_id";
    public const string HeartbeatTimeField = "agent.heartbeat_time_ns";

    /// <summary>The heartbeat's own time in ns (the agent's clock), the key of both events; the stored time if it has none.</summary>
    public static long HeartbeatTimeNs(Heartbeat heartbeat, DateTimeOffset storedAt) =>
        ToNs(heartbeat.Time?.ToDateTimeOffset() ?? storedAt);

    public static string SilentMessageId(string hostId, long heartbeatTimeNs) => $"fleet:silent:{hostId}:{heartbeatTimeNs}";
    public static string BackMessageId(string hostId, long heartbeatTimeNs) => $"fleet:back:{hostId}:{heartbeatTimeNs}";

    public static Detection Silent(string hostId, Heartbeat last, DateTimeOffset storedAt, TimeSpan interval)
    {
        var deadline = storedAt + GatewayOptions.SilentAfterIntervals * interval;
        var d = Base(SilentRuleId, "agent went silent", Severity.High, hostId, last, storedAt, deadline);
        d.MitreTactics.Add("defense-evasion");
        d.MitreTechniques.Add("T1562.001");
        d.Message = $"agent {hostId} went silent: no heartbeat for {Seconds(GatewayOptions.SilentAfterIntervals * interval)} " +
                    $"({GatewayOptions.SilentAfterIntervals} intervals of {Seconds(interval)}); last heartbeat {storedAt:yyyy-MM-ddTHH:mm:ss.fffZ}, " +
                    $"journal at {last.JournalLastSequence}, exported to {last.ExportAckedSequence}";
        return d;
    }

    public static Detection Back(string hostId, Heartbeat current, DateTimeOffset storedAt, long silentSinceNs)
    {
        var d = Base(BackRuleId, "agent back", Severity.Info, hostId, current, storedAt, storedAt);
        d.Fields["agent.silent_heartbeat_time_ns"] = silentSinceNs.ToString(CultureInfo.InvariantCulture);
        d.Message = $"agent {hostId} is back: heartbeat at {storedAt:yyyy-MM-ddTHH:mm:ss.fffZ}, " +
                    $"up since {current.StartedAt?.ToDateTimeOffset():yyyy-MM-ddTHH:mm:ss.fffZ}, journal at {current.JournalLastSequence}";
        return d;
    }

    /// <summary>The (host, heartbeat time) a fleet event is about, or null when the detection is not one.</summary>
    public static (string HostId, bool Silent, long HeartbeatTimeNs)? Parse(Detection d)
    {
        if (d.RuleId is not (SilentRuleId or BackRuleId)) return null;
        if (!d.Fields.TryGetValue(HostField, out var host) || !d.Fields.TryGetValue(HeartbeatTimeField, out var time) ||
            !long.TryParse(time, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ns))
            return null;
        return (host, d.RuleId == SilentRuleId, ns);
    }

    private static Detection Base(string ruleId, string name, Severity severity, string hostId, Heartbeat hb, DateTimeOffset storedAt, DateTimeOffset time)
    {
        var d = new Detection
        {
            RuleId = ruleId, RuleName = name, RuleVersion = "1", Severity = severity,
            Time = Timestamp.FromDateTimeOffset(time), Host = hostId, HostId = FleetSubjects.FleetHostId, JournalId = "fleet",
        };
        d.Tags.Add("fleet");
        d.Tags.Add("liveness");
        d.Fields[HostField] = hostId;
        d.Fields[HeartbeatTimeField] = HeartbeatTimeNs(hb, storedAt).ToString(CultureInfo.InvariantCulture);
        d.Fields["agent.last_heartbeat"] = storedAt.ToString("O", CultureInfo.InvariantCulture);
        d.Fields["agent.interval_ms"] = hb.IntervalMs.ToString(CultureInfo.InvariantCulture);
        d.Fields["agent.version"] = hb.Version;
        d.Fields["agent.journal_id"] = hb.JournalId;
        d.Fields["agent.journal_last_sequence"] = hb.JournalLastSequence.ToString(CultureInfo.InvariantCulture);
        d.Fields["agent.export_acked_sequence"] = hb.ExportAckedSequence.ToString(CultureInfo.InvariantCulture);
        return d;
    }

    private static long ToNs(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
}
