using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Pipeline;
using Sentinel.Events;
using Sentinel.Probes;

namespace Sentinel.Benchmarks.Capture;

/// <summary>The per-event userspace cost of capture: decode a record, and decode plus an empty pipeline pass.</summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private readonly byte[] _record = new byte[MovePagesDecoder.RecordSize];
    private readonly byte[] _copy = new byte[MovePagesDecoder.RecordSize];
    private readonly MovePagesDecoder _decoder = new(AttachStrategy.Tracepoint);
    private readonly MovePagesEvent _event = new();
    private readonly EventPipeline _pipeline = new([], null, [], [], NullLogger<EventPipeline>.Instance);

    [GlobalSetup]
    public unsafe void Setup()
    {
        var raw = new RawMovePagesEvent
        {
            Magic = ProbeHeader.RecordMagic, Size = (uint)MovePagesDecoder.RecordSize, ExitNs = 2, Pid = 42, Tid = 42,
            FoldCount = 1, FoldFirstNs = 2, FoldLastNs = 2,
            Call = { EnterNs = 1, Count = 16, Copied = 16, Copies = 0x1f },
        };
        raw.Comm[0] = (byte)'x';
        MemoryMarshal.Write(_record, in raw);
        // A record the decoder rejects would time its first checks only.
        if (_decoder.Decode(_record, _event) != DecodeResult.Ok) throw new InvalidOperationException("the benchmark record does not decode");
    }

    /// <summary>Baseline: copying the record's bytes, the least any consumer must do.</summary>
    [Benchmark(Baseline = true)]
    public void CopyRecord() => _record.AsSpan().CopyTo(_copy);

    [Benchmark]
    public DecodeResult Decode() => _decoder.Decode(_record, _event);

    [Benchmark]
    public void DecodeAndPipeline()
    {
        _decoder.Decode(_record, _event);
        _pipeline.Process(_event);
    }
}
