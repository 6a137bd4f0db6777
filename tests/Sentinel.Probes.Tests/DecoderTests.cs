using Sentinel.Events;
using Sentinel.Probes;

namespace Sentinel.Probes.Tests;

public unsafe class DecoderTests
{
    private readonly MovePagesDecoder _decoder = new(AttachStrategy.Tracepoint);

    [Fact]
    public void Decodes_every_field_of_a_well_formed_record()
    {
        var raw = RecordBuilder.Valid();
        raw.Call.NodesAtEntry[0] = 5;
        var evt = new MovePagesEvent();

        Assert.Equal(DecodeResult.Ok, _decoder.Decode(RecordBuilder.Bytes(raw), evt));

        Assert.Equal((4242, 4243, 1), (evt.Pid, evt.Tid, evt.Ppid));
        Assert.Equal((1000u, 1000u, 1000u), (evt.Uid, evt.Euid, evt.Gid));
        Assert.Equal("victim", evt.Comm);
        Assert.Equal(500, evt.DurationNs);
        Assert.True(evt.HasCapability(Capability.SysNice));
        Assert.Equal(4026531841UL, evt.MountNamespace);
        Assert.Equal(AttachStrategy.Tracepoint, evt.Strategy);
        Assert.Equal(3UL, evt.Count);
        Assert.Equal(2, evt.Flags);
        Assert.True(evt.IsQueryMode);
        Assert.Equal(3, evt.CopiedCount);
        Assert.Equal([0x7f00_0000_0000UL, 0x7f00_0000_1000UL, 0x7f00_0000_2000UL], evt.PagesAtEntry.ToArray());
        Assert.Equal(evt.PagesAtEntry.ToArray(), evt.PagesAtExit.ToArray());
        Assert.Equal([0, 0, 0], evt.Status.ToArray());
        Assert.True(evt.NodesAtEntry.IsEmpty, "nodes were not read (NULL), so no copy is published");
        Assert.False(evt.HasToctouEvidence);
        // Wall-clock conversion lands near now, not near the epoch.
        Assert.InRange(evt.Time, DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(1));
    }

    [Fact]
    public void A_fold_record_carries_its_count_and_times_and_survives_the_proto_round_trip()
    {
        var raw = RecordBuilder.Valid();
        raw.FoldCount = 12_345;
        raw.FoldFirstNs = raw.ExitNs;
        raw.FoldLastNs = raw.ExitNs + 40_000_000;
        var evt = new MovePagesEvent();

        Assert.Equal(DecodeResult.Ok, _decoder.Decode(RecordBuilder.Bytes(raw), evt));

        Assert.True(evt.IsFold);
        Assert.Equal(12_345, evt.FoldCount);
        Assert.Equal(evt.TimeUnixNs, evt.FoldFirstUnixNs);
        Assert.Equal(40_000_000, evt.FoldLastUnixNs - evt.FoldFirstUnixNs);
        var proto = Sentinel.Contracts.EventConverter.ToProto(evt);
        Assert.Equal(12_345UL, proto.FoldCount);
        var back = new MovePagesEvent();
        Sentinel.Contracts.EventConverter.FromProto(proto, back);
        Assert.Equal((evt.FoldCount, evt.FoldFirstUnixNs, evt.FoldLastUnixNs), (back.FoldCount, back.FoldFirstUnixNs, back.FoldLastUnixNs));
        // A single call carries no fold fields on the wire, so existing event files and streams are unchanged.
        var single = new MovePagesEvent();
        Assert.Equal(DecodeResult.Ok, _decoder.Decode(RecordBuilder.Bytes(RecordBuilder.Valid()), single));
        Assert.Equal(0UL, Sentinel.Contracts.EventConverter.ToProto(single).FoldCount);
        Assert.Null(Sentinel.Contracts.EventConverter.ToProto(single).FoldFirst);
    }

    [Fact]
    public void Pages_that_differ_between_entry_and_exit_become_toctou_evidence()
    {
        var raw = RecordBuilder.Valid(copied: 4);
        raw.Call.Copies = 0b11111;
        raw.PagesAtExit[2] = 0xdead_0000;
        raw.Call.NodesAtEntry[3] = 1;
        var evt = new MovePagesEvent();

        _decoder.Decode(RecordBuilder.Bytes(raw), evt);

        Assert.Equal(0b0100u, evt.PagesChangedMask);
        Assert.Equal(0b1000u, evt.NodesChangedMask);
        Assert.True(evt.HasToctouEvidence);
    }

    [Fact]
    public void Truncated_records_are_rejected_at_every_length()
    {
        var bytes = RecordBuilder.Bytes(RecordBuilder.Valid());
        var evt = new MovePagesEvent();
        for (var length = 0; length < bytes.Length; length += 7)
            Assert.Equal(DecodeResult.Truncated, _decoder.Decode(bytes.AsSpan(0, length), evt));
    }

    [Fact]
    public void Foreign_magic_is_rejected()
    {
        var raw = RecordBuilder.Valid();
        raw.Magic = 0xdeadbeef;
        Assert.Equal(DecodeResult.BadMagic, _decoder.Decode(RecordBuilder.Bytes(raw), new MovePagesEvent()));
    }

    [Fact]
    public void A_record_claiming_another_size_is_rejected()
    {
        var raw = RecordBuilder.Valid();
        raw.Size = 512;
        Assert.Equal(DecodeResult.BadSize, _decoder.Decode(RecordBuilder.Bytes(raw), new MovePagesEvent()));
    }

    [Theory]
    [InlineData("copied beyond the buffers")]
    [InlineData("copied beyond count")]
    [InlineData("compat not a boolean")]
    [InlineData("exit before entry")]
    [InlineData("unknown copy flags")]
    [InlineData("a fold of no calls")]
    [InlineData("a fold that ends before it starts")]
    public void Corrupt_records_are_rejected_not_trusted(string corruption)
    {
        var raw = RecordBuilder.Valid();
        switch (corruption)
        {
            case "copied beyond the buffers": raw.Call.Copied = 200; raw.Call.Count = 1000; break;
            case "copied beyond count": raw.Call.Copied = 3; raw.Call.Count = 1; break;
            case "compat not a boolean": raw.Call.Compat = 7; break;
            case "exit before entry": raw.ExitNs = 10; raw.Call.EnterNs = 20; break;
            case "unknown copy flags": raw.Call.Copies = 0x80; break;
            case "a fold of no calls": raw.FoldCount = 0; break;
            case "a fold that ends before it starts": raw.FoldCount = 5; raw.FoldLastNs = raw.FoldFirstNs - 1; break;
        }
        Assert.Equal(DecodeResult.Corrupt, _decoder.Decode(RecordBuilder.Bytes(raw), new MovePagesEvent()));
    }

    [Fact]
    public void Random_garbage_never_throws()
    {
        var random = new Random(1234);
        var evt = new MovePagesEvent();
        var buffer = new byte[MovePagesDecoder.RecordSize + 16];
        for (var i = 0; i < 5000; i++)
        {
            random.NextBytes(buffer);
            if (i % 2 == 0) BitConverter.TryWriteBytes(buffer, ProbeHeader.RecordMagic);
            var result = _decoder.Decode(buffer.AsSpan(0, random.Next(buffer.Length)), evt);
            Assert.True(Enum.IsDefined(result));
        }
    }

    [Fact]
    public void A_comm_with_no_terminator_uses_all_sixteen_bytes()
    {
        var evt = new MovePagesEvent();
        _decoder.Decode(RecordBuilder.Bytes(RecordBuilder.Valid(comm: "0123456789abcdef")), evt);
        Assert.Equal("0123456789abcdef", evt.Comm);
    }

    [Fact]
    public void Steady_state_decoding_allocates_nothing()
    {
        var bytes = RecordBuilder.Bytes(RecordBuilder.Valid());
        var evt = new MovePagesEvent();
        for (var i = 0; i < 100; i++) _decoder.Decode(bytes, evt); // warm the comm cache and the JIT

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++) _decoder.Decode(bytes, evt);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
    }
}
