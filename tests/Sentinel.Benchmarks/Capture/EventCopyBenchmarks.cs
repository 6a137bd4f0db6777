using BenchmarkDotNet.Attributes;
using Sentinel.Events;

namespace Sentinel.Benchmarks.Capture;

/// <summary>What a pooled event costs besides decoding: the pool's reset, and the rule engine's snapshot copy.</summary>
[MemoryDiagnoser]
public class EventCopyBenchmarks
{
    private readonly MovePagesEvent _source = new() { Pid = 42, Tid = 42, Comm = "x", Count = 16, CopiedCount = 16, FoldCount = 1 };
    private readonly MovePagesEvent _target = new();

    [Benchmark(Baseline = true)]
    public void Reset() => _target.Reset();

    [Benchmark]
    public void CopyTo() => _source.CopyTo(_target);
}
