using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Rules;
using Sentinel.Rules.Testing;

namespace Sentinel.Benchmarks.Rules;

internal static class RuleBench
{
    public static string RulesDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sentinel.sln"))) return Path.Combine(dir.FullName, "rules");
        throw new InvalidOperationException("Sentinel.sln not found");
    }

    public static RuleEngineOptions Options(string? cache) => new()
    {
        UseCache = cache is not null, CacheDirectory = cache, Host = FixtureRunner.FixtureHost,
    };

    /// <summary>Benign calls (no rule fires): self moves and queries on valid nodes, and a benign failure.</summary>
    public static MovePagesEvent[] BenignEvents(int n)
    {
        var events = new MovePagesEvent[n];
        for (var i = 0; i < n; i++)
        {
            var e = new MovePagesEvent
            {
                Pid = 1000 + i % 50, Tid = 1000 + i % 50, Comm = "numad", Flags = (int)MoveFlags.Move, Count = 4,
                PagesAddress = 0x1000, NodesAddress = i % 4 == 0 ? 0UL : 0x2000, StatusAddress = 0x3000,
                TimeUnixNs = 1_772_359_200_000_000_000L + i * 1_000_000L, ReturnValue = i % 10 == 0 ? -13 : 0,
                MountNamespace = 4026531840, PidNamespace = 4026531836, CopiedCount = 4,
                Copies = CopyFlags.PagesAtEntry | CopyFlags.PagesAtExit | CopyFlags.NodesAtEntry | CopyFlags.NodesAtExit,
            };
            for (var j = 0; j < 4; j++)
            {
                e.PagesAtEntryBuffer[j] = e.PagesAtExitBuffer[j] = 0x7f0000000000UL + (ulong)j * 4096;
                e.NodesAtEntryBuffer[j] = e.NodesAtExitBuffer[j] = j % 2;
            }
            events[i] = e;
        }
        return events;
    }
}

internal sealed class NullSink : IDetectionSink
{
    public int Count;
    public void OnDetection(Detection detection) => Count++;
}

/// <summary>
/// The cost per event of the whole built-in pack, against the same logic hand-written (the baseline), on
/// events where no rule fires — the steady state of a monitored host.
/// </summary>
[MemoryDiagnoser]
public class RuleEvaluationBenchmarks
{
    private const int Events = 1024;
    private readonly NullSink _sink = new();
    private MovePagesEvent[] _events = [];
    private RuleEngine _engine = null!;
    private HandWrittenPack _handWritten = null!;

    [GlobalSetup]
    public void Setup()
    {
        _events = RuleBench.BenignEvents(Events);
        _engine = RuleEngine.Load(RuleBench.RulesDirectory(), RuleBench.Options(null), NullLogger.Instance);
        if (_engine.Rules.Count != 8) throw new InvalidOperationException("expected the 8 built-in rules");
        _handWritten = new HandWrittenPack(FixtureRunner.FixtureHost);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_sink.Count != 0) throw new InvalidOperationException($"{_sink.Count} detections on benign events");
        _engine.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Events, Description = "hand-written C#, 8 rules")]
    public void HandWritten()
    {
        foreach (var e in _events) _handWritten.Evaluate(e, _sink);
    }

    [Benchmark(OperationsPerInvoke = Events, Description = "RuleEngine, built-in pack (8 rules)")]
    public void Pack()
    {
        foreach (var e in _events) _engine.Evaluate(e, _sink);
    }
}

/// <summary>
/// Rules-ready times: a first compile (empty cache), a start from a warm cache, and a one-file reload. Each
/// operation takes milliseconds to seconds: run with --strategy Monitoring --iterationCount 5 (docs/BENCHMARKS.md).
/// </summary>
[MemoryDiagnoser]
public class RuleCompileBenchmarks
{
    private string _cache = "";
    private string _reloadDir = "";
    private RuleEngine _reloadEngine = null!;
    private string _reloadFile = "";
    private int _edit;

    [GlobalSetup]
    public void Setup()
    {
        _cache = Path.Combine(Path.GetTempPath(), "sentinel-bench-cache-" + Guid.NewGuid().ToString("N"));
        using (RuleEngine.Load(RuleBench.RulesDirectory(), RuleBench.Options(_cache), NullLogger.Instance)) { }
        _reloadDir = Path.Combine(Path.GetTempPath(), "sentinel-bench-rules-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_reloadDir);
        foreach (var file in Directory.GetFiles(RuleBench.RulesDirectory(), "*.csx"))
            File.Copy(file, Path.Combine(_reloadDir, Path.GetFileName(file)));
        _reloadFile = Directory.GetFiles(_reloadDir, "*.csx")[0];
        _reloadEngine = RuleEngine.Load(_reloadDir, RuleBench.Options(null), NullLogger.Instance);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _reloadEngine.Dispose();
        Directory.Delete(_cache, recursive: true);
        Directory.Delete(_reloadDir, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "load 8 rules from a warm cache")]
    public int CachedStartup()
    {
        using var engine = RuleEngine.Load(RuleBench.RulesDirectory(), RuleBench.Options(_cache), NullLogger.Instance);
        return engine.Rules.Count;
    }

    [Benchmark(Description = "compile 8 rules (no cache)")]
    public int Compile()
    {
        using var engine = RuleEngine.Load(RuleBench.RulesDirectory(), RuleBench.Options(null), NullLogger.Instance);
        return engine.Rules.Count;
    }

    [Benchmark(Description = "reload after editing 1 of 8 rules")]
    public long Reload()
    {
        File.AppendAllText(_reloadFile, $"\n// edit {++_edit}\n");
        return _reloadEngine.Reload().Generation;
    }
}

/// <summary>
/// `rule-pack-loop [SECONDS]`: the pack on the benign events in a plain loop for SECONDS (default 10), printing ns
/// per event each second, alternating with the hand-written baseline each second (the ratio of neighbouring
/// seconds is a same-run figure): a steady target to attach a profiler to, beside the BenchmarkDotNet figures.
/// </summary>
internal static class RulePackLoop
{
    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 ? double.Parse(args[0]) : 10;
        var events = RuleBench.BenignEvents(1024);
        var sink = new NullSink();
        using var engine = RuleEngine.Load(RuleBench.RulesDirectory(), RuleBench.Options(null), NullLogger.Instance);
        IDetector handWritten = new HandWrittenPack(FixtureRunner.FixtureHost);
        var total = System.Diagnostics.Stopwatch.StartNew();
        var (pack, baseline) = (new List<double>(), new List<double>());
        for (var round = 0; total.Elapsed.TotalSeconds < seconds; round++)
        {
            var detector = round % 2 == 0 ? (IDetector)engine : handWritten;
            var second = System.Diagnostics.Stopwatch.StartNew();
            var cpu = ThreadCpu.Nanoseconds();
            long n = 0;
            while (second.ElapsedMilliseconds < 1000)
            {
                foreach (var e in events) detector.Evaluate(e, sink);
                n += events.Length;
            }
            // The thread's CPU time, not the wall clock: on a loaded machine the wait for a core is not the code's.
            var ns = (double)(ThreadCpu.Nanoseconds() - cpu) / n;
            (round % 2 == 0 ? pack : baseline).Add(ns);
            Console.WriteLine($"rule-pack-loop: {(round % 2 == 0 ? "pack" : "hand-written")} {ns:0.0} ns/event of CPU ({sink.Count} detections)");
        }
        // The first round of each includes JIT warm-up: medians of the rest.
        static double Median(List<double> xs) => xs.Skip(1).Order().ElementAtOrDefault(Math.Max(0, xs.Count - 1) / 2);
        if (pack.Count > 1 && baseline.Count > 1)
            Console.WriteLine($"rule-pack-loop: median pack {Median(pack):0.0} ns, hand-written {Median(baseline):0.0} ns, ratio {Median(pack) / Median(baseline):0.00}x");
        return 0;
    }
}

/// <summary>The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), in ns.</summary>
internal static partial class ThreadCpu
{
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec value);

    public static long Nanoseconds()
    {
        const int threadCpuTime = 3;
        if (ClockGetTime(threadCpuTime, out var t) != 0) throw new InvalidOperationException("clock_gettime failed");
        return t.Seconds * 1_000_000_000 + t.Nanoseconds;
    }
}
