using System.Runtime.InteropServices;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.Rules;
using Sentinel.Rules.Testing;
using Sentinel.TestSupport;

namespace Sentinel.Fuzz.Tests;

/// <summary>
/// The ring-buffer decoder on raw bytes: random spans, records with a valid header and random fields, and
/// records that pass every structural check with random contents. Properties: it never throws; whatever it
/// accepts is consistent, survives the JSON round trip unchanged, and the built-in rules evaluate it without
/// an error.
/// </summary>
public sealed class DecoderFuzzTests
{
    private static readonly int Size = MovePagesDecoder.RecordSize;

    /// <summary>0: any bytes; 1: magic and size right; 2: every field within what the decoder accepts.</summary>
    private static readonly Gen<byte[]> Records = Gen.Frequency(
        (1, Gen.Byte.Array[0, Size + 64]),
        (2, Gen.Select(Gen.Byte.Array[Size], Gen.Int[1, 2], Shape)));

    private static byte[] Shape(byte[] bytes, int level)
    {
        ref var raw = ref MemoryMarshal.AsRef<RawMovePagesEvent>(bytes.AsSpan());
        raw.Magic = ProbeHeader.RecordMagic;
        raw.Size = (uint)Size;
        if (level < 2) return bytes;
        raw.Call.Copied = (byte)(raw.Call.Copied % (ProbeHeader.MaxCopied + 1));
        if (raw.Call.Count < raw.Call.Copied) raw.Call.Count = raw.Call.Copied;
        raw.Call.Compat &= 1;
        raw.Call.Copies &= 0x1f;
        // Plausible clocks: the decoder turns monotonic time into wall-clock time by adding an offset.
        raw.Call.EnterNs %= 1UL << 50;
        raw.ExitNs = raw.Call.EnterNs + raw.ExitNs % 1_000_000_000;
        raw.FoldCount = 1 + raw.FoldCount % 1_000;
        raw.FoldFirstNs = raw.ExitNs;
        raw.FoldLastNs = raw.ExitNs + raw.FoldLastNs % 1_000_000_000;
        return bytes;
    }

    [Fact]
    public void Any_bytes_decode_or_are_rejected_and_accepted_records_are_sound()
    {
        var decoder = new MovePagesDecoder(AttachStrategy.Tracepoint);
        using var engine = RuleEngine.Load(RepoPaths.Rules,
            new RuleEngineOptions { UseCache = false, Host = FixtureRunner.FixtureHost }, NullLogger.Instance);
        var sink = new CountingSink();
        long accepted = 0;

        FuzzBudget.Run(Records, bytes =>
        {
            var evt = new MovePagesEvent();
            var result = decoder.Decode(bytes, evt);
            if (bytes.Length < Size) Assert.Equal(DecodeResult.Truncated, result);
            if (result != DecodeResult.Ok) return;
            accepted++;
            Assert.InRange(evt.CopiedCount, 0, MovePagesEvent.MaxCopied);
            Assert.True(evt.CopiedCount <= (long)Math.Min(evt.Count, int.MaxValue));
            _ = (evt.PagesAtEntry.Length, evt.NodesAtEntry.Length, evt.Status.Length, evt.ErrnoName, evt.IsSelf);

            var copy = new MovePagesEvent();
            EventJson.Parse(EventJson.Format(evt), copy);
            Assert.Equal(EventJson.Format(evt), EventJson.Format(copy));

            engine.Evaluate(evt, sink);
        }, print: bytes => Convert.ToHexString(bytes));

        Assert.True(accepted > 0, "the generator should reach records the decoder accepts");
        Assert.All(engine.Status(), s => Assert.True(s.Errors == 0, $"{s.Id}: {s.LastError}"));
    }

    private sealed class CountingSink : IDetectionSink
    {
        public long Count;
        public void OnDetection(Detection detection) => Count++;
    }
}
