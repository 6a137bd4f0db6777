using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Rules.Compilation;
using Sentinel.TestSupport;

namespace Sentinel.Rules.Tests;

public sealed class AllocationAndCacheTests
{
    [Fact]
    public void The_builtin_pack_allocates_nothing_per_event_when_no_rule_fires()
    {
        using var engine = TestRules.Load(RepoPaths.Rules);
        var sink = new ListSink();
        // A benign call: self, MOVE, valid nodes, success, host namespaces; and one that fails benignly.
        var benign = TestRules.Event(pid: 500);
        var failed = TestRules.Event(pid: 501, ret: -13);
        for (var i = 0; i < 1000; i++) { engine.Evaluate(benign, sink); engine.Evaluate(failed, sink); }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++) { engine.Evaluate(benign, sink); engine.Evaluate(failed, sink); }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Empty(sink.Detections);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void A_second_load_comes_from_the_cache_and_a_changed_file_does_not()
    {
        using var dir = new RuleDirectory();
        var cacheDir = Path.Combine(dir.Path, "cache");
        var compiler = new RuleCompiler(new RuleCache(cacheDir));
        var source = TestRules.Rule("SNT-9001", "findings.Add(\"x\");");

        var first = compiler.Compile("/rules/a.csx", source);
        var second = compiler.Compile("/rules/a.csx", source);
        var changed = compiler.Compile("/rules/a.csx", source.Replace("\"x\"", "\"y\""));

        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.Equal(first.Image, second.Image);
        Assert.False(changed.FromCache);
        Assert.Equal(2, Directory.GetFiles(cacheDir, "*.dll").Length);
    }

    [Fact]
    public void Rejected_rules_are_never_cached()
    {
        using var dir = new RuleDirectory();
        var cacheDir = Path.Combine(dir.Path, "cache");
        var compiler = new RuleCompiler(new RuleCache(cacheDir));
        var hostile = TestRules.Rule("SNT-9001", "Environment.Exit(1);");

        compiler.Compile("/rules/a.csx", hostile);
        var again = compiler.Compile("/rules/a.csx", hostile);

        Assert.False(again.Succeeded);
        Assert.False(again.FromCache);
        Assert.False(Directory.Exists(cacheDir) && Directory.GetFiles(cacheDir).Length > 0);
    }

    [Fact]
    public void An_engine_loaded_from_the_cache_evaluates_like_a_fresh_one()
    {
        using var dir = new RuleDirectory();
        var cacheDir = Path.Combine(dir.Path, "cache");
        dir.Write("r.csx", TestRules.Rule("SNT-9001", "if (e.TargetPid != 0) findings.Add(\"cross\");"));
        using (TestRules.Load(dir.Path, TestRules.Options(cacheDir))) { }

        using var cached = TestRules.Load(dir.Path, TestRules.Options(cacheDir));
        var sink = new ListSink();
        cached.Evaluate(TestRules.Event(target: 0), sink);
        cached.Evaluate(TestRules.Event(target: 9), sink);

        Assert.Equal(9, Assert.Single(sink.Detections).Event.TargetPid);
    }

    [Fact]
    public void Sliding_window_counts_per_key_within_the_window()
    {
        var window = new SlidingWindow<int>(3, TimeSpan.FromSeconds(10), maxKeys: 2);
        const long s = 1_000_000_000;

        Assert.False(window.Record(1, 0));
        Assert.False(window.Record(1, 5 * s));
        Assert.False(window.Record(2, 5 * s));
        Assert.True(window.Record(1, 9 * s));   // 3 hits within 10 s
        Assert.False(window.Record(1, 10 * s)); // counting starts afresh after firing
        Assert.Equal(1, window.Count(1, 10 * s));
        Assert.Equal(0, window.Count(1, 21 * s)); // expired
        window.Record(3, 30 * s);                // a third key evicts the expired ones
        Assert.True(window.TrackedKeys <= 2);
    }

    [Fact]
    public void Default_rules_directory_is_the_repository_rules()
    {
        Assert.Equal(RepoPaths.Rules, RuleDirectories.Default());
        Assert.Equal(8, RuleDirectories.RuleFiles(RuleDirectories.Default()).Count);
    }

    [Fact]
    public void Scaffolded_rule_passes_lint_and_its_fixtures()
    {
        using var dir = new RuleDirectory();

        var scaffold = RuleScaffold.Create(dir.Path, "large-migration");
        var report = new Sentinel.Rules.Testing.FixtureRunner(TestRules.Options(), NullLogger.Instance).Run(scaffold.RuleFile);

        Assert.Equal("SNT-1001", scaffold.RuleId);
        Assert.Empty(RuleLinter.Lint(scaffold.RuleFile));
        Assert.True(report.Passed, string.Join("\n", report.Cases.Select(c => c.Failure)));
        Assert.Equal(2, report.Cases.Count);
        Assert.Equal("SNT-1002", RuleScaffold.Create(dir.Path, "second").RuleId);
        Assert.Throws<ArgumentException>(() => RuleScaffold.Create(dir.Path, "Bad Name"));
    }
}
