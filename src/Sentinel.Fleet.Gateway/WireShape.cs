using System.Text.Unicode;
using Google.Protobuf.Reflection;

namespace Sentinel.Fleet.Gateway;

/// <summary>The few fields of a stored detection the gateway acts on, read from its wire bytes (last occurrence wins, as in a parse).</summary>
internal struct DetectionFacts
{
    public ulong Sequence;
    public ulong AgentSequence;
    public int Severity;
    public int RuleIdOffset;
    public int RuleIdLength;
}

/// <summary>
/// A protobuf wire check driven by a message's descriptor, so a stored detection can be passed to clients as its
/// own bytes. <see cref="Check"/> answers true only when every field is well formed, every known nested message is
/// too and every known string is UTF-8: bytes any client's parser accepts. Anything unusual (groups, a known field
/// with another wire type, deep nesting) answers false and the caller takes the full parse, so the check never has
/// to be as lenient as a parser, only never more.
/// </summary>
internal sealed class WireShape
{
    private const int MaxDepth = 32;

    private enum Kind : byte { Unknown, Varint, Fixed64, Fixed32, String, Bytes, Message }

    private readonly Kind[] _kinds;
    private readonly bool[] _repeated;
    private readonly WireShape?[] _nested;

    public static readonly WireShape Detection = For(V1.Detection.Descriptor, []);

    private WireShape(int maxField)
    {
        _kinds = new Kind[maxField + 1];
        _repeated = new bool[maxField + 1];
        _nested = new WireShape?[maxField + 1];
    }

    private static WireShape For(MessageDescriptor descriptor, Dictionary<string, WireShape> built)
    {
        if (built.TryGetValue(descriptor.FullName, out var existing)) return existing;
        var fields = descriptor.Fields.InFieldNumberOrder();
        var shape = new WireShape(fields.Count == 0 ? 0 : fields.Max(f => f.FieldNumber));
        built[descriptor.FullName] = shape; // before the fields, so a recursive message refers to itself
        foreach (var field in fields)
        {
            shape._kinds[field.FieldNumber] = KindOf(field.FieldType);
            shape._repeated[field.FieldNumber] = field.IsRepeated;
            if (field.FieldType == FieldType.Message) shape._nested[field.FieldNumber] = For(field.MessageType, built);
        }
        return shape;
    }

    private static Kind KindOf(FieldType type) => type switch
    {
        FieldType.Int32 or FieldType.Int64 or FieldType.UInt32 or FieldType.UInt64 or FieldType.SInt32 or FieldType.SInt64
            or FieldType.Bool or FieldType.Enum => Kind.Varint,
        FieldType.Fixed64 or FieldType.SFixed64 or FieldType.Double => Kind.Fixed64,
        FieldType.Fixed32 or FieldType.SFixed32 or FieldType.Float => Kind.Fixed32,
        FieldType.String => Kind.String,
        FieldType.Bytes => Kind.Bytes,
        FieldType.Message => Kind.Message,
        _ => Kind.Unknown, // groups: the check below refuses their wire types
    };

    /// <summary>True when <paramref name="data"/> is a well-formed detection; its facts are then filled.</summary>
    public bool Check(ReadOnlySpan<byte> data, out DetectionFacts facts)
    {
        facts = default;
        return Check(data, 0, ref facts, top: true);
    }

    private bool Check(ReadOnlySpan<byte> data, int depth, ref DetectionFacts facts, bool top)
    {
        if (depth > MaxDepth) return false;
        var pos = 0;
        while (pos < data.Length)
        {
            if (!TryVarint(data, ref pos, out var tag) || tag > uint.MaxValue || tag >> 3 == 0) return false;
            var number = (int)(tag >> 3);
            var kind = number < _kinds.Length ? _kinds[number] : Kind.Unknown;
            switch ((int)tag & 7)
            {
                case 0:
                    if (kind is not (Kind.Varint or Kind.Unknown) || !TryVarint(data, ref pos, out var value)) return false;
                    if (top) Remember(number, value, ref facts);
                    break;
                case 1:
                    if (kind is not (Kind.Fixed64 or Kind.Unknown) || data.Length - pos < 8) return false;
                    pos += 8;
                    break;
                case 5:
                    if (kind is not (Kind.Fixed32 or Kind.Unknown) || data.Length - pos < 4) return false;
                    pos += 4;
                    break;
                case 2:
                    if (!TryVarint(data, ref pos, out var length) || length > (ulong)(data.Length - pos)) return false;
                    var body = data.Slice(pos, (int)length);
                    var ok = kind switch
                    {
                        Kind.Unknown or Kind.Bytes => true,
                        Kind.String => Utf8.IsValid(body),
                        Kind.Message => _nested[number]!.Check(body, depth + 1, ref facts, top: false),
                        Kind.Varint or Kind.Fixed64 or Kind.Fixed32 => _repeated[number] && IsPacked(body, kind),
                        _ => false,
                    };
                    if (!ok) return false;
                    if (top && number == V1.Detection.RuleIdFieldNumber) (facts.RuleIdOffset, facts.RuleIdLength) = (pos, body.Length);
                    pos += body.Length;
                    break;
                default:
                    return false; // groups and invalid wire types
            }
        }
        return true;
    }

    private static void Remember(int number, ulong value, ref DetectionFacts facts)
    {
        switch (number)
        {
            case V1.Detection.SequenceFieldNumber: facts.Sequence = value; break;
            case V1.Detection.AgentSequenceFieldNumber: facts.AgentSequence = value; break;
            case V1.Detection.SeverityFieldNumber: facts.Severity = (int)value; break; // an enum is read as int32
        }
    }

    private static bool IsPacked(ReadOnlySpan<byte> body, Kind kind)
    {
        if (kind == Kind.Fixed64) return body.Length % 8 == 0;
        if (kind == Kind.Fixed32) return body.Length % 4 == 0;
        var pos = 0;
        while (pos < body.Length)
            if (!TryVarint(body, ref pos, out _)) return false;
        return true;
    }

    private static bool TryVarint(ReadOnlySpan<byte> data, ref int pos, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64 && pos < data.Length; shift += 7)
        {
            var b = data[pos++];
            if (shift == 63 && b > 1) return false; // beyond 64 bits
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }
}
