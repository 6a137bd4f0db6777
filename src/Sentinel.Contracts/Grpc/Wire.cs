using Google.Protobuf;

namespace Sentinel.Contracts.Grpc;

/// <summary>Protobuf wire primitives for code that appends fields to bytes it passes through.</summary>
public static class Wire
{
    /// <summary>Writes <paramref name="value"/> as a base-128 varint; returns the bytes written.</summary>
    public static int WriteVarint(Span<byte> span, ulong value)
    {
        var i = 0;
        for (; value >= 0x80; value >>= 7) span[i++] = (byte)(value | 0x80);
        span[i++] = (byte)value;
        return i;
    }

    /// <summary>The bytes <see cref="WriteUInt64Field"/> writes: the tag and the varint.</summary>
    public static int UInt64FieldSize(int fieldNumber, ulong value) =>
        CodedOutputStream.ComputeTagSize(fieldNumber) + CodedOutputStream.ComputeUInt64Size(value);

    /// <summary>Writes field <paramref name="fieldNumber"/> as a varint (wire type 0); returns the bytes written.</summary>
    public static int WriteUInt64Field(Span<byte> span, int fieldNumber, ulong value)
    {
        var written = WriteVarint(span, (ulong)fieldNumber << 3);
        return written + WriteVarint(span[written..], value);
    }

    /// <summary>The bytes <see cref="WriteStringField"/> writes for a string of <paramref name="utf8Length"/> UTF-8 bytes.</summary>
    public static int StringFieldSize(int fieldNumber, int utf8Length) =>
        CodedOutputStream.ComputeTagSize(fieldNumber) + CodedOutputStream.ComputeLengthSize(utf8Length) + utf8Length;

    /// <summary>Writes field <paramref name="fieldNumber"/> as a length-delimited UTF-8 string (wire type 2).</summary>
    public static int WriteStringField(Span<byte> span, int fieldNumber, string value, int utf8Length)
    {
        var written = WriteVarint(span, ((ulong)fieldNumber << 3) | 2);
        written += WriteVarint(span[written..], (ulong)utf8Length);
        return written + System.Text.Encoding.UTF8.GetBytes(value, span[written..]);
    }
}
