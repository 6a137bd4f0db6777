using System.Buffers;
using System.Text;
using Grpc.Core;
using Sentinel.Contracts.Grpc;
using Sentinel.V1;

namespace Sentinel.Fleet.Gateway;

/// <summary>
/// One detection on its way to a client, as a sentinel.v1.Detection on the wire. Usually the stored bytes followed by
/// the fleet's own `sequence`, `host_id` (and `agent_sequence` when the agent left it 0): a parser keeps the last
/// value of a singular field, so the appended fields win without the detection being decoded and re-encoded.
/// A message the wire check could not vouch for travels as a parsed (and so re-encoded) <see cref="Detection"/>.
/// </summary>
public sealed class FleetDetection : WireDetection
{
    private const int MaxStackRuleId = 512;

    private ReadOnlyMemory<byte> _stored;
    private DetectionFacts _facts;
    private int _hostIdLength; // UTF-8 bytes, counted once per detection

    public ulong Sequence { get; private set; }
    public string HostId { get; private set; } = "";

    /// <summary>Set when the detection was parsed rather than passed through.</summary>
    public Detection? Parsed { get; private set; }

    public Severity Severity => Parsed?.Severity ?? (Severity)_facts.Severity;

    /// <summary>Whether the rule id is one of <paramref name="ruleIds"/>, read from the stored bytes without a string.</summary>
    public bool RuleIdIn(HashSet<string> ruleIds)
    {
        if (Parsed is not null) return ruleIds.Contains(Parsed.RuleId);
        var utf8 = _stored.Span.Slice(_facts.RuleIdOffset, _facts.RuleIdLength);
        if (utf8.Length > MaxStackRuleId) return ruleIds.Contains(Encoding.UTF8.GetString(utf8));
        Span<char> chars = stackalloc char[MaxStackRuleId];
        return ruleIds.GetAlternateLookup<ReadOnlySpan<char>>().Contains(chars[..Encoding.UTF8.GetChars(utf8, chars)]);
    }

    internal void SetStored(ReadOnlyMemory<byte> stored, in DetectionFacts facts, ulong sequence, string hostId)
    {
        (_stored, _facts, Sequence, HostId, Parsed) = (stored, facts, sequence, hostId, null);
        _hostIdLength = Encoding.UTF8.GetByteCount(hostId);
    }

    internal void SetParsed(Detection parsed)
    {
        (_stored, _facts, Sequence, HostId, Parsed) = (default, default, parsed.Sequence, parsed.HostId, parsed);
    }

    private ulong AppendedAgentSequence => _facts.AgentSequence == 0 ? _facts.Sequence : 0;

    private int WireLength()
    {
        var length = _stored.Length + Wire.UInt64FieldSize(Detection.SequenceFieldNumber, Sequence)
                     + Wire.StringFieldSize(Detection.HostIdFieldNumber, _hostIdLength);
        if (AppendedAgentSequence != 0) length += Wire.UInt64FieldSize(Detection.AgentSequenceFieldNumber, AppendedAgentSequence);
        return length;
    }

    private void WriteTo(Span<byte> span)
    {
        _stored.Span.CopyTo(span);
        var pos = _stored.Length;
        pos += Wire.WriteUInt64Field(span[pos..], Detection.SequenceFieldNumber, Sequence);
        pos += Wire.WriteStringField(span[pos..], Detection.HostIdFieldNumber, HostId, _hostIdLength);
        if (AppendedAgentSequence != 0)
            Wire.WriteUInt64Field(span[pos..], Detection.AgentSequenceFieldNumber, AppendedAgentSequence);
    }

    public override void Serialize(SerializationContext context)
    {
        if (Parsed is { } parsed)
        {
            ProtoMarshallers.Serialize(parsed, context);
            return;
        }
        var length = WireLength();
        context.SetPayloadLength(length);
        var writer = context.GetBufferWriter();
        WriteTo(writer.GetSpan(length)[..length]);
        writer.Advance(length);
        context.Complete();
    }

    /// <summary>Writes a detection as sentinel.v1.Detection and reads one back (a client of this method gets Parsed).</summary>
    public static new Marshaller<FleetDetection> Marshaller { get; } = Marshallers.Create<FleetDetection>(
        static (detection, context) => detection.Serialize(context),
        static context =>
        {
            var detection = new FleetDetection();
            detection.SetParsed(Detection.Parser.ParseFrom(context.PayloadAsReadOnlySequence()));
            return detection;
        });
}
