using BenchmarkDotNet.Attributes;
using Sentinel.ProcessTree;
using static Sentinel.ProcessTree.ProcTreeHeader;

namespace Sentinel.Benchmarks.ProcessTree;

/// <summary>
/// Userspace cost of one short-lived process (fork + exec + exit records) in a full tree that must evict as it
/// goes, i.e. the work per fork during a storm. Baseline: only reading the three records off the ring.
/// </summary>
[MemoryDiagnoser]
public class ForkStormBenchmarks
{
    private const int Processes = 4096;
    private const ulong Sec = 1_000_000_000;
    private byte[][] _records = [];
    private Sentinel.ProcessTree.ProcessTree _tree = null!;

    [GlobalSetup]
    public void Setup()
    {
        // A full tree (capacity 8192) of live processes, so every new one evicts.
        _tree = ProcessTreeFixtures.BuildLiveTree(8_192, capacity: 8_192);
        var records = new List<byte[]>();
        for (var i = 0; i < Processes; i++)
        {
            var pid = 20_000 + i;
            var start = 100 * Sec + (ulong)i * 10_007;
            records.Add(ProcessTreeFixtures.Bytes(ProcessTreeFixtures.Record(ProcKind.Fork, pid, start, 500, 3 * Sec, "bash")));
            records.Add(ProcessTreeFixtures.Bytes(ProcessTreeFixtures.Record(ProcKind.Exec, pid, start, 500, 3 * Sec, "true", "/usr/bin/true", "true\0")));
            records.Add(ProcessTreeFixtures.Bytes(ProcessTreeFixtures.Record(ProcKind.Exit, pid, start, 500, 3 * Sec, "true")));
        }
        _records = records.ToArray();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Processes)]
    public int ReadRecordsOnly()
    {
        var n = 0;
        foreach (var bytes in _records)
            if (ProcTreeRecord.TryRead(bytes, out var r)) n += (int)r.Pid;
        return n;
    }

    [Benchmark(OperationsPerInvoke = Processes)]
    public int ApplyForkExecExit()
    {
        foreach (var bytes in _records)
            if (ProcTreeRecord.TryRead(bytes, out var r)) _tree.Apply(r);
        return _tree.Count;
    }
}
