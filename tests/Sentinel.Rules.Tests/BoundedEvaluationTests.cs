using Sentinel.Rules.Runtime;

namespace Sentinel.Rules.Tests;

/// <summary>Runaway and throwing rules are stopped and quarantined; the other rules keep producing detections.</summary>
public sealed class BoundedEvaluationTests
{
    private const string FiresAlways = """findings.Add("good");""";

    public static TheoryData<string, string, string, string> Runaways() => new()
    {
        { "endless loop", "while (true) { }", "", "step budget" },
        { "endless for", "for (;;) { }", "", "step budget" },
        { "unbounded recursion", "Recurse(1);", "private static int Recurse(int n) => Recurse(n + 1) + 1;", "stack budget" },
        // The JIT may turn this into a tail call, so it runs out of steps rather than stack: stopped either way.
        { "recursion through a lambda", "Func<int, int>? f = null; f = n => f!(n + 1); f(0);", "", "budget" },
        { "recursion through a property", "var x = Loop;", "private int Loop => Loop + 1;", "stack budget" },
        { "unbounded allocation in a loop", "var all = new List<int[]>(); while (true) all.Add(new int[50_000]);", "", "allocation budget" },
        { "doubling string", "var s = \"x\"; while (true) s += s;", "", "allocation budget" },
        { "one huge array", "var a = new long[e.Pid * 1_000_000];", "", "array dimension of 100000000 elements" },
        // Quadratic inside framework calls, within the step budget: the watchdog's CPU deadline stops them.
        { "colliding long keys", "var set = new HashSet<long>(); for (long i = 0; i < 200_000; i++) set.Add(i * 0x1_0000_0001L);", "", "time budget" },
        { "records with one hash", "var set = new HashSet<Key>(); for (var i = 0; i < 100_000; i++) set.Add(new Key(i));",
          "public sealed record Key(int V) { public override int GetHashCode() => 1; }", "time budget" },
        { "a long scan per iteration", "var s = \"aaaaaaaa\"; for (var k = 0; k < 18; k++) s += s; var n = 0; for (var i = 0; i < 100_000; i++) if (s.IndexOf('b') >= 0) n++;", "", "time budget" },
        // Sort wraps what its comparer throws; the overrun inside still quarantines at the first evaluation.
        { "a Sort comparer over big strings", "var s = \"aaaaaaaa\"; for (var k = 0; k < 16; k++) s += s; var (a, b) = (s + \"a\", s + \"b\"); var l = new List<string>(); " +
          "for (var i = 0; i < 20_000; i++) l.Add(i % 3 == 0 ? a : b); l.Sort((x, y) => string.CompareOrdinal(x, y));", "", "allocation budget" },
    };

    [Theory]
    [MemberData(nameof(Runaways))]
    public void A_runaway_rule_is_quarantined_and_the_others_keep_firing(string what, string match, string members, string reason)
    {
        using var dir = new RuleDirectory();
        dir.Write("a-good.csx", TestRules.Rule("SNT-9001", FiresAlways));
        dir.Write("b-runaway.csx", TestRules.Rule("SNT-9002", match + "\nfindings.Add(\"unreachable\");", members));
        dir.Write("c-good.csx", TestRules.Rule("SNT-9003", FiresAlways));
        using var engine = TestRules.Load(dir.Path);
        Assert.False(engine.Diagnostics.Any(d => d.IsError), string.Join("; ", engine.Diagnostics.Select(d => d.Message)));
        var sink = new ListSink();

        for (var i = 0; i < 20; i++)
            engine.Evaluate(TestRules.Event(pid: 100), sink);

        Assert.Equal(40, sink.Detections.Count);
        Assert.All(sink.Detections, d => Assert.Equal("good", d.Message));
        var runaway = Assert.Single(engine.Status(), s => s.Id == "SNT-9002");
        Assert.True(runaway.Quarantined, what);
        Assert.True(runaway.QuarantineReason?.Contains(reason), runaway.QuarantineReason);
        Assert.Equal(1, runaway.Errors); // quarantined at the first runaway, not after repeated ones
        Assert.Equal(1, runaway.Evaluations);
        Assert.All(engine.Status().Where(s => s.Id != "SNT-9002"), s => Assert.Equal((20, false), (s.Evaluations, s.Quarantined)));
    }

    /// <summary>
    /// Three evaluations of about 0.4 s of CPU each (one HashSet built over 20,000 keys whose hashes collide) flag
    /// the rule slow; the fourth is one HashSet constructor over 320,000 such keys: minutes of work inside the
    /// framework, with no rule code for a check to run in. The watchdog aborts it at the 1 s limit.
    /// </summary>
    public const string SlowThenOneLongCall = """
        var n = _round++ < 3 ? 20_000 : 40_000;
        var keys = new List<long>();
        for (long i = 0; i < n; i++) keys.Add(i * 0x1_0000_0001L);
        if (n > 20_000) { keys.AddRange(keys); keys.AddRange(keys); keys.AddRange(keys); }
        var set = new HashSet<long>(keys);
        if (set.Count < 0) findings.Add("never");
        """;

    [Fact]
    public void A_rule_flagged_slow_is_aborted_inside_one_framework_call_and_the_others_keep_firing()
    {
        using var dir = new RuleDirectory();
        dir.Write("a-good.csx", TestRules.Rule("SNT-9001", FiresAlways));
        dir.Write("b-slow.csx", TestRules.Rule("SNT-9002", SlowThenOneLongCall, "private int _round;"));
        dir.Write("c-good.csx", TestRules.Rule("SNT-9003", FiresAlways));
        using var engine = TestRules.Load(dir.Path);
        Assert.False(engine.Diagnostics.Any(d => d.IsError), string.Join("; ", engine.Diagnostics.Select(d => d.Message)));
        var sink = new ListSink();

        // As the pipeline evaluates: under the guard, where the watchdog can abort a call inside the framework.
        var next = 0;
        engine.RunGuarded(() =>
        {
            while (next < 6)
            {
                next++;
                engine.Evaluate(TestRules.Event(pid: 100), sink);
            }
        });

        var slow = Assert.Single(engine.Status(), s => s.Id == "SNT-9002");
        Assert.True(slow.Quarantined);
        // Not the check after the call returned ("super-linear work"): the call itself was aborted.
        Assert.Contains("time budget of 1000 ms of CPU in one evaluation (aborted inside a framework call", slow.QuarantineReason);
        Assert.Equal((4, 1), (slow.Evaluations, slow.Errors));
        Assert.Equal(12, sink.Detections.Count);
        Assert.All(engine.Status().Where(s => s.Id != "SNT-9002"), s => Assert.Equal((6, false), (s.Evaluations, s.Quarantined)));
    }

    [Fact]
    public void Static_initializers_run_at_load_within_its_budget_never_first_in_the_state_walk()
    {
        // Match never touches Holder. Run lazily, its initializer would first run when the engine measures the state
        // the rule keeps (reading the static fields), outside any evaluation's budget and watchdog.
        using var dir = new RuleDirectory();
        var file = dir.Write("a-spin.csx", TestRules.Rule("SNT-9001", FiresAlways) + """

            public static class Holder
            {
                public static readonly List<long> Keys = Build();

                private static List<long> Build()
                {
                    var keys = new List<long>();
                    while (true) keys.Clear();
                }
            }
            """);
        dir.Write("b-good.csx", TestRules.Rule("SNT-9002", FiresAlways));

        using var engine = TestRules.Load(dir.Path);

        var error = Assert.Single(engine.Diagnostics, d => d.IsError);
        Assert.Equal(file, error.File);
        Assert.Contains("Holder", error.Message);
        Assert.Contains("step budget", error.Message);
        Assert.Equal(["SNT-9002"], engine.Status().Select(s => s.Id));
    }

    [Fact]
    public void A_throwing_rule_is_counted_then_quarantined_and_the_others_keep_running()
    {
        using var dir = new RuleDirectory();
        dir.Write("a-good.csx", TestRules.Rule("SNT-9001", FiresAlways));
        // Throws on odd pids only: successes in between do not reset the count.
        dir.Write("b-throws.csx", TestRules.Rule("SNT-9002",
            """findings.Add("partial"); if (e.Pid % 2 == 1) throw new InvalidOperationException("boom " + e.Pid);"""));
        using var engine = TestRules.Load(dir.Path, TestRules.Options() with { QuarantineAfterErrors = 3 });
        var sink = new ListSink();

        for (var pid = 1; pid <= 10; pid++)
            engine.Evaluate(TestRules.Event(pid: pid), sink);

        var thrower = Assert.Single(engine.Status(), s => s.Id == "SNT-9002");
        Assert.Equal(3, thrower.Errors);
        Assert.True(thrower.Quarantined);
        Assert.Contains("threw 3 times", thrower.QuarantineReason);
        // The message, then the .csx line that threw.
        Assert.StartsWith("InvalidOperationException: boom 5 (at ", thrower.LastError);
        Assert.Equal(5, thrower.Evaluations); // pids 1-5; quarantined after the third failure
        // Findings of a failed evaluation are dropped; those of its successes (pids 2 and 4) are kept.
        Assert.Equal([2, 4], sink.Detections.Where(d => d.Rule.Id == "SNT-9002").Select(d => d.Event.Pid));
        Assert.Equal(10, sink.Detections.Count(d => d.Rule.Id == "SNT-9001"));
    }

    [Fact]
    public void Budget_checks_are_injected_only_where_code_can_repeat()
    {
        using var dir = new RuleDirectory();
        dir.Write("plain.csx", TestRules.Rule("SNT-9001", "if (e.Pid == 1) findings.Add(\"x\");"));
        dir.Write("loop.csx", TestRules.Rule("SNT-9002", "for (var i = 0; i < 3; i++) { }"));
        using var engine = TestRules.Load(dir.Path);

        var compiled = new[] { "plain.csx", "loop.csx" }
            .Select(f => TestRules.Compile(File.ReadAllText(Path.Combine(dir.Path, f))))
            .ToList();

        Assert.All(compiled, c => Assert.True(c.Succeeded));
        Assert.Equal(2, engine.Status().Count);
        // A loop that ends is not stopped: the budget is far above what it needs.
        engine.Evaluate(TestRules.Event(pid: 1), new ListSink());
        Assert.All(engine.Status(), s => Assert.False(s.Quarantined));
        Assert.True(BudgetLimits.Default.MaxSteps >= 100_000);
    }

    [Fact]
    public void The_event_a_detection_carries_is_a_snapshot()
    {
        using var dir = new RuleDirectory();
        dir.Write("r.csx", TestRules.Rule("SNT-9001", FiresAlways));
        using var engine = TestRules.Load(dir.Path);
        var sink = new ListSink();
        var pooled = TestRules.Event(pid: 42);

        engine.Evaluate(pooled, sink);
        pooled.Reset();

        Assert.Equal(42, Assert.Single(sink.Detections).Event.Pid);
    }
}
