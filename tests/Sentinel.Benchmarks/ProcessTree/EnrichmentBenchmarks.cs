using BenchmarkDotNet.Attributes;
using Sentinel.Events;
using Sentinel.Bpf;
using Sentinel.ProcessTree;

namespace Sentinel.Benchmarks.ProcessTree;

/// <summary>
/// The cost the process tree adds to each move_pages event, in a tree of 10k live processes. Baseline: the least
/// any enrichment must do, one dictionary look-up of the caller's pid.
/// </summary>
[MemoryDiagnoser]
public class EnrichmentBenchmarks
{
    private const int Workers = 10_000;
    private readonly Dictionary<int, ProcessInfo> _plain = [];
    private ProcessTreeEnricher _enricher = null!;
    private MovePagesEvent _self = null!, _cross = null!;

    [GlobalSetup]
    public void Setup()
    {
        var tree = ProcessTreeFixtures.BuildLiveTree(Workers);
        _enricher = new ProcessTreeEnricher(tree);
        for (var pid = 1000; pid < 1000 + Workers; pid++) _plain[pid] = tree.Find(pid)!;
        _self = Event(caller: 5000, target: 0);
        _cross = Event(caller: 5000, target: 7000);
    }

    private static MovePagesEvent Event(int caller, int target) => new()
    {
        Pid = caller, Tid = caller, Uid = 1000, Euid = 1000, Gid = 1000, TargetPid = target,
        MountNamespace = ProcessTreeFixtures.HostMnt, PidNamespace = ProcessTreeFixtures.HostPid,
        TimeUnixNs = (long)BootClock.NowNs + BootClock.UnixOffsetNs, Comm = "python3",
    };

    [Benchmark(Baseline = true)]
    public ProcessInfo? CallerLookupOnly() => _plain.GetValueOrDefault(_self.Pid);

    [Benchmark]
    public bool EnrichSelfCall()
    {
        _enricher.Enrich(_self);
        return _self.Enrichment.Enriched;
    }

    [Benchmark]
    public bool EnrichCrossProcessCall()
    {
        _enricher.Enrich(_cross);
        return _cross.Enrichment.IsCrossProcess;
    }
}
