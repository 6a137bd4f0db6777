using Sentinel.Events;
using static Sentinel.Events.EventCatalog;

namespace Sentinel.Contracts;

/// <summary>
/// Serializes a <see cref="Detection"/>, its event included, straight to sentinel.v1.Detection bytes: the bytes of
/// <c>DetectionConverter.ToProto(d).ToByteArray()</c>, without the ~50 objects of the V1 graph. For a consumer that
/// only wants the bytes (the journal); one that wants the message converts it. Fields are written in field-number
/// order, as the generated code writes them; the values come from the converters' own helpers.
/// </summary>
public static class DetectionWireWriter
{
    // Every map entry is a message { key = 1; value = 2; }.
    private const int MapKeyField = 1, MapValueField = 2;

    /// <summary>The bytes of <c>DetectionConverter.ToProto(detection).ToByteArray()</c>.</summary>
    public static byte[] ToByteArray(Detection detection) =>
        ToByteArray(detection, detection.Sequence, detection.AgentSequence, detection.JournalId, detection.HostId);

    /// <summary>As <see cref="ToByteArray(Detection)"/>, with the journal's fields given rather than the detection's.</summary>
    public static byte[] ToByteArray(Detection detection, ulong sequence, ulong agentSequence, string journalId, string hostId)
    {
        ConversionCounter.CountWritten();
        var writer = new ProtoWriter(1024);
        try
        {
            WriteDetection(ref writer, detection, sequence, agentSequence, journalId, hostId);
            return writer.ToArray();
        }
        finally
        {
            writer.Dispose();
        }
    }

    private static void WriteDetection(ref ProtoWriter w, Detection d, ulong sequence, ulong agentSequence, string journalId, string hostId)
    {
        var rule = d.Rule;
        w.UInt64(V1.Detection.SequenceFieldNumber, sequence);
        w.String(V1.Detection.RuleIdFieldNumber, rule.Id);
        w.String(V1.Detection.RuleNameFieldNumber, rule.Name);
        w.String(V1.Detection.RuleVersionFieldNumber, rule.Version);
        w.Int32(V1.Detection.SeverityFieldNumber, (int)(V1.Severity)rule.Severity);
        w.Strings(V1.Detection.MitreTacticsFieldNumber, rule.MitreTactics);
        w.Strings(V1.Detection.MitreTechniquesFieldNumber, rule.MitreTechniques);
        w.Strings(V1.Detection.TagsFieldNumber, rule.Tags);
        w.Timestamp(V1.Detection.TimeFieldNumber, ProtoTime.FromDateTimeOffset(d.Time));
        w.String(V1.Detection.HostFieldNumber, d.Host);
        w.String(V1.Detection.MessageFieldNumber, d.Message);
        foreach (var (key, value) in d.Fields)
        {
            // Google.Protobuf leaves an empty key or value out of the entry, as it does a proto3 field.
            var entry = w.StartLengthDelimited(V1.Detection.FieldsFieldNumber);
            w.String(MapKeyField, key);
            w.String(MapValueField, value);
            w.EndLengthDelimited(entry);
        }
        var evt = w.StartLengthDelimited(V1.Detection.EventFieldNumber);
        WriteEvent(ref w, d.Event);
        w.EndLengthDelimited(evt);
        w.String(V1.Detection.HostIdFieldNumber, hostId);
        w.String(V1.Detection.JournalIdFieldNumber, journalId);
        w.UInt64(V1.Detection.AgentSequenceFieldNumber, agentSequence);
        w.UInt32(V1.Detection.FoldCountFieldNumber, d.FoldCount);
        if (d.FirstTime is { } first) w.Timestamp(V1.Detection.FirstTimeFieldNumber, ProtoTime.FromDateTimeOffset(first));
        if (d.LastTime is { } last) w.Timestamp(V1.Detection.LastTimeFieldNumber, ProtoTime.FromDateTimeOffset(last));
        w.String(V1.Detection.RuleDescriptionFieldNumber, rule.Description);
        if (d.Remediation is { } r)
        {
            var remediation = w.StartLengthDelimited(V1.Detection.RemediationFieldNumber);
            w.String(V1.Remediation.ActionFieldNumber, r.Action);
            w.String(V1.Remediation.ResultFieldNumber, r.Result);
            w.String(V1.Remediation.PathFieldNumber, r.Path);
            w.String(V1.Remediation.DetailFieldNumber, r.Detail);
            w.EndLengthDelimited(remediation);
        }
    }

    private static void WriteEvent(ref ProtoWriter w, MovePagesEvent e)
    {
        w.String(V1.Event.NameFieldNumber, MovePages.Name);
        w.Timestamp(V1.Event.TimeFieldNumber, ProtoTime.FromUnixNs(e.TimeUnixNs));

        var context = w.StartLengthDelimited(V1.Event.ContextFieldNumber);
        ContextMirror.Write(ref w, e);
        w.EndLengthDelimited(context);

        w.Int32(V1.Event.StrategyFieldNumber, (int)(V1.AttachStrategy)e.Strategy);
        w.Bool(V1.Event.CompatFieldNumber, e.Compat);
        for (var i = 0; i < MovePages.Arguments.Count; i++)
        {
            var def = MovePages.Arguments[i];
            var arg = w.StartLengthDelimited(V1.Event.ArgsFieldNumber);
            w.String(V1.Argument.NameFieldNumber, def.Name);
            w.String(V1.Argument.TypeFieldNumber, def.Type);
            w.Strings(V1.Argument.TagsFieldNumber, EventConverter.TagNames[i]);
            // A generated oneof case is its member's field number; the member is written even when 0.
            w.Varint((int)EventConverter.ValueKind(i), EventConverter.ArgumentValue(e, i));
            w.EndLengthDelimited(arg);
        }
        w.Int64(V1.Event.ReturnValueFieldNumber, e.ReturnValue);
        w.String(V1.Event.ErrnoFieldNumber, EventConverter.ErrnoOf(e));

        var copies = w.StartLengthDelimited(V1.Event.CopiesFieldNumber);
        w.UInt32(V1.ArrayCopies.CopiedFieldNumber, (uint)e.CopiedCount);
        w.Packed(V1.ArrayCopies.PagesAtEntryFieldNumber, e.PagesAtEntry);
        w.Packed(V1.ArrayCopies.PagesAtExitFieldNumber, e.PagesAtExit);
        w.Packed(V1.ArrayCopies.NodesAtEntryFieldNumber, e.NodesAtEntry);
        w.Packed(V1.ArrayCopies.NodesAtExitFieldNumber, e.NodesAtExit);
        w.Packed(V1.ArrayCopies.StatusFieldNumber, e.Status);
        w.EndLengthDelimited(copies);

        var toctou = w.StartLengthDelimited(V1.Event.ToctouFieldNumber);
        w.Bool(V1.ToctouEvidence.ChangedFieldNumber, e.HasToctouEvidence);
        Span<uint> indexes = stackalloc uint[32];
        w.Packed(V1.ToctouEvidence.PagesChangedFieldNumber, indexes[..EventConverter.Indexes(e.PagesChangedMask, indexes)]);
        w.Packed(V1.ToctouEvidence.NodesChangedFieldNumber, indexes[..EventConverter.Indexes(e.NodesChangedMask, indexes)]);
        w.EndLengthDelimited(toctou);

        if (e.Enrichment.Enriched)
        {
            var enrichment = w.StartLengthDelimited(V1.Event.EnrichmentFieldNumber);
            WriteEnrichment(ref w, e.Enrichment);
            w.EndLengthDelimited(enrichment);
        }
        w.UInt64(V1.Event.DurationNsFieldNumber, EventConverter.DurationOf(e));
        if (e.IsFold)
        {
            w.UInt64(V1.Event.FoldCountFieldNumber, (ulong)e.FoldCount);
            w.Timestamp(V1.Event.FoldFirstFieldNumber, ProtoTime.FromUnixNs(e.FoldFirstUnixNs));
            w.Timestamp(V1.Event.FoldLastFieldNumber, ProtoTime.FromUnixNs(e.FoldLastUnixNs));
        }
    }

    private static void WriteEnrichment(ref ProtoWriter w, EventEnrichment en)
    {
        if (en.Caller is { } caller) WriteProcess(ref w, V1.Enrichment.CallerFieldNumber, caller);
        if (en.Target is { } target) WriteProcess(ref w, V1.Enrichment.TargetFieldNumber, target);
        foreach (var ancestor in en.Ancestry) WriteProcess(ref w, V1.Enrichment.AncestryFieldNumber, ancestor);
        EnrichmentMirror.Write(ref w, en);
    }

    private static void WriteProcess(ref ProtoWriter w, int field, ProcessInfo p)
    {
        var start = w.StartLengthDelimited(field);
        ProcessMirror.Write(ref w, p);
        w.EndLengthDelimited(start);
    }
}
