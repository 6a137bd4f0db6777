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
}
