using Google.Protobuf;
using Grpc.Core;
using Sentinel.Contracts;
using Sentinel.Contracts.Grpc;
using Sentinel.Events;

namespace Sentinel.Server.Journal;

/// <summary>
/// A committed detection as the journal stores and serves it: its sentinel.v1.Detection bytes, sequence included,
/// and the facts a stream filters on. Streams write the bytes as they are: no client costs a decode and re-encode.
/// </summary>
public sealed class JournalEntry(ulong sequence, V1.Severity severity, string ruleId, byte[] payload, long eventUnixNs = 0)
    : WireDetection
{
    public ulong Sequence { get; } = sequence;
    public V1.Severity Severity { get; } = severity;
    public string RuleId { get; } = ruleId;

    /// <summary>The serialized sentinel.v1.Detection, exactly as stored. Never modified.</summary>
    public byte[] Payload { get; } = payload;

    /// <summary>The triggering event's time (Unix ns) for the delivery-latency metric; 0 when read back from disk.</summary>
    internal long EventUnixNs { get; } = eventUnixNs;

    public V1.Detection Parse() => V1.Detection.Parser.ParseFrom(Payload);

    public override void Serialize(SerializationContext context) => context.Complete(Payload);
}

/// <summary>
/// A detection serialized once, on the pipeline's side of the hand-off, so the journal's single writer only numbers,
/// inserts and commits. The body carries everything but the sequence. When the event's observers (the broadcaster,
/// the event outputs) already converted the event, or an after-commit sink takes the converted detection, the body
/// is that conversion's, written into an array with room at its end for the sequence fields the journal expects to
/// give it, so numbering writes them in place; otherwise it is written straight from the detection, with no V1
/// objects, and numbering copies it into a payload one sequence longer.
/// </summary>
internal sealed class PreparedDetection
{
    private readonly V1.Detection? _proto;
    private readonly byte[] _payload; // the body, then any room left for the sequence fields
    private readonly int _bodyLength;

    /// <param name="expectedSequence">The sequence the journal will most likely give it: room for its fields is left
    /// when the body is written here. A wrong guess costs only the copy it would have saved.</param>
    /// <param name="keepProto">Keep the converted detection for the printers that take it (the JSON printer), so
    /// they print it rather than convert the detection again.</param>
    public PreparedDetection(Detection source, string journalId, string hostId, ulong expectedSequence = 0, bool keepProto = false)
    {
        Source = source;
        Severity = (V1.Severity)source.Rule.Severity;
        RuleId = source.Rule.Id;
        EventUnixNs = source.Event.TimeUnixNs;
        // Both give the same bytes, so an observer converting the event on another thread meanwhile changes nothing.
        if (!keepProto && !EventConverter.HasShared(source.Event))
        {
            _payload = DetectionWireWriter.ToByteArray(source, sequence: 0, agentSequence: 0, journalId, hostId); // numbered by the writer
            _bodyLength = _payload.Length;
            return;
        }
        var proto = DetectionConverter.ToProtoSharingEvent(source);
        proto.Sequence = proto.AgentSequence = 0; // numbered by the writer
        proto.JournalId = journalId;
        proto.HostId = hostId;
        _bodyLength = proto.CalculateSize();
        _payload = new byte[_bodyLength + (expectedSequence == 0 ? 0 : SequenceFieldsSize(expectedSequence))];
        proto.WriteTo(_payload.AsSpan(0, _bodyLength));
        if (keepProto) _proto = proto;
    }

    public Detection Source { get; }
    public ReadOnlySpan<byte> Body => _payload.AsSpan(0, _bodyLength);
    public V1.Severity Severity { get; }
    public string RuleId { get; }
    public long EventUnixNs { get; }

    /// <summary>
    /// The stored bytes: the body, then `sequence` and `agent_sequence` (a parser keeps a field's last value). In the
    /// room left for them when there is exactly enough, else in a new array. Called once, by the journal's writer.
    /// </summary>
    public JournalEntry Number(ulong sequence)
    {
        var length = _bodyLength + SequenceFieldsSize(sequence);
        var payload = _payload;
        if (payload.Length != length)
        {
            payload = new byte[length];
            Body.CopyTo(payload);
        }
        var span = payload.AsSpan(_bodyLength);
        var pos = Wire.WriteUInt64Field(span, V1.Detection.SequenceFieldNumber, sequence);
        Wire.WriteUInt64Field(span[pos..], V1.Detection.AgentSequenceFieldNumber, sequence);
        return new JournalEntry(sequence, Severity, RuleId, payload, EventUnixNs);
    }

    private static int SequenceFieldsSize(ulong sequence) =>
        Wire.UInt64FieldSize(V1.Detection.SequenceFieldNumber, sequence) + Wire.UInt64FieldSize(V1.Detection.AgentSequenceFieldNumber, sequence);

    /// <summary>What the after-commit sinks see: the detection with its place in the journal, and its conversion if kept.</summary>
    public CommittedDetection Committed(ulong sequence, string journalId, string hostId)
    {
        if (_proto is not null) _proto.Sequence = _proto.AgentSequence = sequence; // as the stored payload says
        return new(Source with { Sequence = sequence, AgentSequence = sequence, JournalId = journalId, HostId = hostId }, _proto);
    }
}

/// <summary>A committed detection on its way to the after-commit sinks; <see cref="Proto"/> is null unless one takes it.</summary>
internal readonly record struct CommittedDetection(Detection Detection, V1.Detection? Proto);
