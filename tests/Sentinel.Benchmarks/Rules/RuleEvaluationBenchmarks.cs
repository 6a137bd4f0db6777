using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Rules;
using Sentinel.Rules.Runtime;
using Sentinel.Rules.Testing;

namespace Sentinel.Benchmarks.Rules;

internal static class RuleBench
{
    public static string RulesDirectory() => TestSupport.RepoPaths.Rules;

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
/// `rule-pack-loop [SECONDS] [--floor]`: the pack on the benign events in a plain loop for SECONDS (default 10),
/// after a warm-up that lasts until the JIT is quiet, printing ns of thread CPU per event each second, in turn
/// with the hand-written baseline (the ratio of neighbouring seconds is a same-run figure): a steady target to
/// attach a profiler to, beside the BenchmarkDotNet figures. With --floor, six more take turns: the pack's rules
/// called directly (each rule's Match through its virtual call, no engine: no counters or prefilter), the same
/// calling only the rules the prefilter does not skip, that without the budget's epoch, the facts and prefilters
/// alone with no rule called (what separate rule methods cost before any engine work, and what choosing them
/// costs), the hand-written code compiled and loaded the way rules are, and the engine with no rule at all (its own
/// cost per event). The whole loop runs inside the engine's guarded region, as the agent's pipeline does.
/// </summary>
internal static class RulePackLoop
{
    public static int Run(string[] args)
    {
        var seconds = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? double.Parse(args[0]) : 10;
        var events = RuleBench.BenignEvents(1024);
        var sink = new NullSink();
        using var engine = RuleEngine.Load(RuleBench.RulesDirectory(), RuleBench.Options(null), NullLogger.Instance);
        var contenders = new List<(string Name, IDetector Detector)>
        {
            ("pack", engine), ("hand-written", new HandWrittenPack(FixtureRunner.FixtureHost)),
        };
        if (args.Contains("--floor"))
        {
            contenders.Add(("rules called directly", new DirectCalls(engine, Floor.AllRules)));
            contenders.Add(("unskipped rules called directly", new DirectCalls(engine, Floor.UnskippedRules)));
            contenders.Add(("unskipped rules, no budget", new DirectCalls(engine, Floor.UnskippedRulesWithoutBudget)));
            contenders.Add(("facts and prefilters, no rule called", new DirectCalls(engine, Floor.NoRuleCalled)));
            contenders.Add(("hand-written, in a collectible context", CollectibleHandWrittenPack.Load()));
            contenders.Add(("the engine with no rules", RuleEngine.Load(EmptyRulesDirectory(), RuleBench.Options(null), NullLogger.Instance)));
        }
        // As the agent's pipeline does: the engine binds the evaluating thread's budget once for the whole run.
        engine.RunGuarded(() => Measure(contenders, events, sink, seconds));
        return 0;
    }

    private static void Measure(List<(string Name, IDetector Detector)> contenders, MovePagesEvent[] events, NullSink sink, double seconds)
    {
        WarmUntilJitQuiet(contenders.Select(c => c.Detector).ToList(), events, sink);
        var figures = contenders.Select(_ => new List<double>()).ToArray();
        var total = System.Diagnostics.Stopwatch.StartNew();
        for (var round = 0; total.Elapsed.TotalSeconds < seconds; round++)
        {
            var which = round % contenders.Count;
            var detector = contenders[which].Detector;
            var second = System.Diagnostics.Stopwatch.StartNew();
            var cpu = CpuClock.ThreadNs();
            long n = 0;
            while (second.ElapsedMilliseconds < 1000)
            {
                foreach (var e in events) detector.Evaluate(e, sink);
                n += events.Length;
            }
            // The thread's CPU time, not the wall clock: on a loaded machine the wait for a core is not the code's.
            var ns = (double)(CpuClock.ThreadNs() - cpu) / n;
            figures[which].Add(ns);
            Console.WriteLine($"rule-pack-loop: {contenders[which].Name} {ns:0.0} ns/event of CPU ({sink.Count} detections)");
        }
        // The first round of each includes JIT warm-up and tiering: medians of the rest.
        static double Median(List<double> xs) => xs.Skip(1).Order().ElementAtOrDefault(Math.Max(0, xs.Count - 2) / 2);
        if (figures.All(f => f.Count > 1))
        {
            var baseline = Median(figures[1]);
            Console.WriteLine("rule-pack-loop: medians " + string.Join(", ", contenders.Select((c, i) =>
                $"{c.Name} {Median(figures[i]):0.0} ns ({Median(figures[i]) / baseline:0.00}x)")));
        }
    }

    /// <summary>
    /// Runs every contender until the JIT has compiled nothing for two seconds (at most two minutes). Compiling the
    /// rules JIT-compiles much of Roslyn, whose methods then queue for tier 1 ahead of the measured code: measured
    /// before that queue drains, a contender runs at whatever tier it has reached, and the ratio changes with it.
    /// </summary>
    private static void WarmUntilJitQuiet(List<IDetector> detectors, MovePagesEvent[] events, IDetectionSink sink)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (compiled, quietSince) = (System.Runtime.JitInfo.GetCompiledMethodCount(), clock.Elapsed);
        while (clock.Elapsed - quietSince < TimeSpan.FromSeconds(2) && clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            foreach (var detector in detectors)
                for (var round = 0; round < 50; round++)
                    foreach (var e in events) detector.Evaluate(e, sink);
            var now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now != compiled) (compiled, quietSince) = (now, clock.Elapsed);
        }
        Console.WriteLine($"rule-pack-loop: the JIT went quiet after {clock.Elapsed.TotalSeconds:0.0} s of warm-up ({compiled} methods compiled)");
    }

    /// <summary>A rules directory with no rule: the engine's own cost per event, with nothing to call.</summary>
    private static string EmptyRulesDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "sentinel-bench-no-rules");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>How much of the engine a floor contender keeps.</summary>
    private enum Floor { AllRules, UnskippedRules, UnskippedRulesWithoutBudget, NoRuleCalled }

    /// <summary>
    /// The engine's rules, each called straight through <see cref="Rule.Match"/>, with only the new epoch each
    /// evaluation needs (the checks in rule code arm their budget once per epoch), or less: without the budget's
    /// epoch, or computing the facts and testing the prefilters without calling any rule.
    /// </summary>
    private sealed class DirectCalls(RuleEngine engine, Floor floor) : IDetector
    {
        private readonly Rule[] _rules = engine.ActiveSlots.Select(s => s.Live!).ToArray();
        private readonly BudgetLimits _limits = engine.Options.Budget;
        private readonly Sentinel.Rules.Runtime.RulePrefilter[] _prefilters = engine.ActiveSlots.Select(s => s.Prefilter).ToArray();
        private readonly Findings _findings = new();
        private Sentinel.Rules.Runtime.RuleBudget.State? _budget;
        public int Unskipped;

        public void Evaluate(MovePagesEvent e, IDetectionSink sink)
        {
            var prefiltered = floor != Floor.AllRules;
            var features = prefiltered ? Sentinel.Rules.Runtime.EventFeatures.Of(e) : 0;
            // Read once, as the engine does inside a guarded run.
            var budget = _budget ??= Sentinel.Rules.Runtime.RuleBudget.ForThread;
            for (var i = 0; i < _rules.Length; i++)
            {
                if (prefiltered && _prefilters[i].Skips(features)) continue;
                switch (floor)
                {
                    case Floor.NoRuleCalled:
                        Unskipped++; // keeps the loop from being optimized away
                        break;
                    case Floor.UnskippedRulesWithoutBudget:
                        _rules[i].Match(e, _findings);
                        break;
                    default:
                        var epoch = Sentinel.Rules.Runtime.RuleBudget.Begin(budget, _limits);
                        _rules[i].Match(e, _findings);
                        Sentinel.Rules.Runtime.RuleBudget.Ended(budget, epoch);
                        break;
                }
            }
            if (_findings.Count != 0) throw new InvalidOperationException("a rule fired on a benign event");
        }
    }
}
