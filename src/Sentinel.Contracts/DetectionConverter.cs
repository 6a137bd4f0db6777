using Sentinel.Events;

namespace Sentinel.Contracts;

public static class DetectionConverter
{
    /// <summary>A detached conversion, its event included, that the caller owns.</summary>
    public static V1.Detection ToProto(Detection d) => ToProto(d, EventConverter.ToProto(d.Event));

    /// <summary>
    /// As <see cref="ToProto(Detection)"/>, with the event's shared conversion (<see cref="EventConverter.Shared"/>):
    /// an event already converted for its observers, or for another detection of it, is not converted again.
    /// The detection is the caller's; its <c>event</c> is shared and must not be modified.
    /// </summary>
    public static V1.Detection ToProtoSharingEvent(Detection d) => ToProto(d, EventConverter.Shared(d.Event));

    private static V1.Detection ToProto(Detection d, V1.Event evt)
    {
        ConversionCounter.CountDetection();
        var proto = new V1.Detection
        {
            Sequence = d.Sequence,
            RuleId = d.Rule.Id,
            RuleName = d.Rule.Name,
            RuleVersion = d.Rule.Version,
            Severity = (V1.Severity)d.Rule.Severity,
            Time = ProtoTime.FromDateTimeOffset(d.Time).ToTimestamp(),
            Host = d.Host,
            Message = d.Message,
            Event = evt,
            FoldCount = d.FoldCount,
            RuleDescription = d.Rule.Description,
            JournalId = d.JournalId,
            HostId = d.HostId,
            AgentSequence = d.AgentSequence,
        };
        if (d.FirstTime is { } first) proto.FirstTime = ProtoTime.FromDateTimeOffset(first).ToTimestamp();
        if (d.LastTime is { } last) proto.LastTime = ProtoTime.FromDateTimeOffset(last).ToTimestamp();
        proto.MitreTactics.Add(d.Rule.MitreTactics);
        proto.MitreTechniques.Add(d.Rule.MitreTechniques);
        proto.Tags.Add(d.Rule.Tags);
        foreach (var (key, value) in d.Fields) proto.Fields[key] = value;
        if (d.Remediation is { } r)
            proto.Remediation = new V1.Remediation { Action = r.Action, Result = r.Result, Path = r.Path, Detail = r.Detail };
        return proto;
    }

    public static Detection FromProto(V1.Detection proto)
    {
        var evt = new MovePagesEvent();
        if (proto.Event is { } e) EventConverter.FromProto(e, evt);
        return new Detection
        {
            Sequence = proto.Sequence,
            Rule = new RuleInfo
            {
                Id = proto.RuleId, Name = proto.RuleName, Version = proto.RuleVersion, Description = proto.RuleDescription,
                Severity = (Severity)proto.Severity, MitreTactics = proto.MitreTactics.ToArray(),
                MitreTechniques = proto.MitreTechniques.ToArray(), Tags = proto.Tags.ToArray(),
            },
            Time = proto.Time?.ToDateTimeOffset() ?? DateTimeOffset.UnixEpoch,
            Host = proto.Host,
            Message = proto.Message,
            Fields = new Dictionary<string, string>(proto.Fields),
            Event = evt,
            FoldCount = Math.Max(proto.FoldCount, 1u),
            FirstTime = proto.FirstTime?.ToDateTimeOffset(),
            LastTime = proto.LastTime?.ToDateTimeOffset(),
            Remediation = proto.Remediation is { } r ? new Remediation(r.Action, r.Result, r.Path, r.Detail) : null,
            JournalId = proto.JournalId,
            HostId = proto.HostId,
            AgentSequence = proto.AgentSequence,
        };
    }
}
