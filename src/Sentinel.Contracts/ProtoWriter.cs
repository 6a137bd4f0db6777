using System.Buffers;
using System.Numerics;
using System.Text;
using Google.Protobuf;
using Sentinel.Contracts.Grpc;

namespace Sentinel.Contracts;

/// <summary>
/// Writes protobuf fields into a pooled buffer with the encoding choices of the generated C# code, so a message
/// written field by field in field-number order has the bytes its generated class would give: proto3 scalars are
/// left out when zero, repeated scalars are packed, strings are UTF-8. A nested message's length is written after
/// its content (one byte reserved, the content moved in the rare case it needs more), so nothing is sized twice.
/// </summary>
internal ref struct ProtoWriter
{
    private const int MaxVarintLength = 10;

    private byte[] _buffer;
    private int _position;

    public ProtoWriter(int capacity) => _buffer = ArrayPool<byte>.Shared.Rent(capacity);

    /// <summary>A proto3 scalar: not written when 0, as it has no presence.</summary>
    public void UInt64(int field, ulong value)
    {
        if (value != 0) Varint(field, value);
    }

    public void Int64(int field, long value) => UInt64(field, (ulong)value);

    /// <summary>A negative int32 is written as its int64 sign extension: ten bytes, as the protobuf spec requires.</summary>
    public void Int32(int field, int value) => UInt64(field, (ulong)(long)value);

    public void UInt32(int field, uint value) => UInt64(field, value);

    public void Bool(int field, bool value) => UInt64(field, value ? 1UL : 0UL);

    /// <summary>A field with presence (a oneof member): written whatever its value.</summary>
    public void Varint(int field, ulong value)
    {
        Tag(field, WireFormat.WireType.Varint);
        RawVarint(value);
    }

    /// <summary>A proto3 string: not written when empty.</summary>
    public void String(int field, string value)
    {
        if (value.Length != 0) PresentString(field, value);
    }

    /// <summary>A repeated string: every element with its tag, empty ones included (strings are never packed).</summary>
    public void Strings(int field, IReadOnlyList<string> values)
    {
        for (var i = 0; i < values.Count; i++) PresentString(field, values[i]);
    }

    /// <summary>
    /// A packed repeated integer field (int32, uint32, uint64): not written when empty. A signed value is
    /// sign-extended to 64 bits first, as the spec has a negative int32 take ten bytes.
    /// </summary>
    public void Packed<T>(int field, scoped ReadOnlySpan<T> values) where T : IBinaryInteger<T>
    {
        if (values.IsEmpty) return;
        var start = StartLengthDelimited(field);
        foreach (var value in values) RawVarint((ulong)long.CreateTruncating(value));
        EndLengthDelimited(start);
    }

    /// <summary>A google.protobuf.Timestamp field, present (an epoch time is an empty message, not a missing one).</summary>
    public void Timestamp(int field, ProtoTime time)
    {
        var start = StartLengthDelimited(field);
        Int64(Google.Protobuf.WellKnownTypes.Timestamp.SecondsFieldNumber, time.Seconds);
        Int32(Google.Protobuf.WellKnownTypes.Timestamp.NanosFieldNumber, time.Nanos);
        EndLengthDelimited(start);
    }

    /// <summary>Starts a nested message or a packed list: its tag and a one-byte length, fixed by <see cref="EndLengthDelimited"/>.</summary>
    public int StartLengthDelimited(int field)
    {
        Tag(field, WireFormat.WireType.LengthDelimited);
        Free(1);
        return _position++;
    }

    public void EndLengthDelimited(int start)
    {
        var length = _position - start - 1;
        var extra = CodedOutputStream.ComputeLengthSize(length) - 1;
        if (extra > 0)
        {
            Free(extra);
            _buffer.AsSpan(start + 1, length).CopyTo(_buffer.AsSpan(start + 1 + extra));
            _position += extra;
        }
        Wire.WriteVarint(_buffer.AsSpan(start), (ulong)length);
    }

    /// <summary>The bytes written, in an array of their exact length (the journal keeps it as the payload).</summary>
    public readonly byte[] ToArray() => _buffer.AsSpan(0, _position).ToArray();

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _position = 0;
    }

    private void Tag(int field, WireFormat.WireType type) => RawVarint(WireFormat.MakeTag(field, type));

    private void PresentString(int field, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value); // replaces lone surrogates with U+FFFD, as protobuf does
        _position += Wire.WriteStringField(Free(2 * 5 + length), field, value, length); // tag and length: 5 bytes each at most
    }

    private void RawVarint(ulong value) => _position += Wire.WriteVarint(Free(MaxVarintLength), value);

    /// <summary>The free part of the buffer, at least <paramref name="needed"/> bytes: grown by doubling.</summary>
    private Span<byte> Free(int needed)
    {
        if (_buffer.Length - _position < needed)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Math.Max(2 * _buffer.Length, _position + needed));
            _buffer.AsSpan(0, _position).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        return _buffer.AsSpan(_position);
    }
}
