using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sentinel.TestSupport;

namespace Sentinel.Rules.Tests;

/// <summary>`sentinel rules …` and `sentinel replay` as users run them: the built binary, exit codes and output.</summary>
public sealed class CliTests
{
    [Fact]
    public void Lint_passes_the_builtin_pack()
    {
        var run = Sentinel("rules", "lint", RepoPaths.Rules);

        Assert.Equal((0, ""), (run.ExitCode, run.Stderr));
        Assert.Contains("8 rule file(s): 0 error(s), 0 warning(s)", run.Stdout);
    }

    [Fact]
    public void Lint_prints_compiler_style_diagnostics_and_exits_1()
    {
        using var dir = new RuleDirectory();
        var source = TestRules.Rule("SNT-9001", "System.IO.File.Delete(\"/etc/passwd\");");
        var file = dir.Write("evil.csx", source);
        var lines = source.Split('\n');
        var line = Array.FindIndex(lines, l => l.Contains("Delete")) + 1;
        var column = lines[line - 1].IndexOf("Delete", StringComparison.Ordinal) + 1;

        var run = Sentinel("rules", "lint", dir.Path);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"{file}:{line}:{column}: error SNT1001: 'System.IO.File.Delete' is not allowed", run.Stdout);
        Assert.Contains("1 rule file(s): 1 error(s)", run.Stdout);
    }

    [Fact]
    public void Test_runs_every_fixture_of_the_builtin_pack()
    {
        var run = Sentinel("rules", "test", RepoPaths.Rules);

        Assert.Equal(0, run.ExitCode);
        Assert.Matches(@"\d+ passed, 0 failed", run.Stdout);
        for (var i = 1; i <= 8; i++) Assert.Contains($"PASS  SNT-{i:D4}", run.Stdout);
        Assert.DoesNotContain("FAIL", run.Stdout);
    }

    [Fact]
    public void Test_reports_a_failing_case_and_exits_1()
    {
        using var dir = new RuleDirectory();
        var rule = dir.Write("r.csx", TestRules.Rule("SNT-9001", "if (e.TargetPid != 0) findings.Add(\"cross\");"));
        var fixture = File.ReadAllLines(Path.Combine(RepoPaths.Rules, "snt-0001-cross-process-migration.fixtures.jsonl"));
        // The first line fires (target 5150); claim it must not.
        File.WriteAllLines(RuleDirectories.FixturePath(rule), [fixture[0].Replace("\"fires\":true", "\"fires\":false"), .. fixture[1..]]);

        var run = Sentinel("rules", "test", dir.Path);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("FAIL  SNT-9001  moves pages of another process", run.Stdout);
        Assert.Contains("expected no finding, got: cross", run.Stdout);
    }

    [Fact]
    public void Test_with_a_malformed_fixture_names_line_and_field_and_exits_2()
    {
        using var dir = new RuleDirectory();
        var rule = dir.Write("r.csx", TestRules.Rule("SNT-9001", ""));
        File.WriteAllText(RuleDirectories.FixturePath(rule), "{\"case\":\"x\",\"fires\":\"yes\",\"event\":{}}\n");

        var run = Sentinel("rules", "test", dir.Path);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("r.fixtures.jsonl:1: fires: expected true or false", run.Stderr);
    }

    [Fact]
    public void List_prints_the_rule_table()
    {
        var run = Sentinel("rules", "list", RepoPaths.Rules);

        Assert.Equal(0, run.ExitCode);
        var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^ID\s+NAME\s+SEVERITY\s+MITRE\s+FILE$", lines[0]);
        Assert.Equal(9, lines.Length);
        Assert.Matches(@"^SNT-0003\s+Query-mode probing .*\s+high\s+TA0007,TA0004,T1068\s+.*snt-0003-query-mode-layout-leak\.csx$",
            lines.Single(l => l.StartsWith("SNT-0003")));
    }

    [Fact]
    public void New_scaffolds_a_rule_that_passes_lint_and_test_at_once()
    {
        using var dir = new RuleDirectory();

        var created = Sentinel("rules", "new", "large-migration", "--dir", dir.Path);
        var lint = Sentinel("rules", "lint", dir.Path);
        var test = Sentinel("rules", "test", dir.Path);

        Assert.Equal(0, created.ExitCode);
        Assert.Contains("snt-1001-large-migration.csx (SNT-1001)", created.Stdout);
        Assert.Equal(0, lint.ExitCode);
        Assert.Equal(0, test.ExitCode);
        Assert.Contains("2 passed, 0 failed", test.Stdout);
    }

    [Fact]
    public void Replay_prints_one_json_detection_a_line_and_exits_1_on_findings()
    {
        using var dir = new RuleDirectory();
        var events = Path.Combine(dir.Path, "events.jsonl");
        File.WriteAllLines(events, FixtureEvents("snt-0007-compat-syscall.fixtures.jsonl"));

        var run = Sentinel("replay", events, "--rules", RepoPaths.Rules, "--format", "json");

        Assert.Equal(1, run.ExitCode);
        var detections = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();
        // Two compat calls (SNT-0007); the second also targets pid 1 (SNT-0001).
        Assert.Equal(["SNT-0007", "SNT-0001", "SNT-0007"], detections.Select(d => d.GetProperty("ruleId").GetString()));
        Assert.All(detections, d => Assert.Equal("move_pages", d.GetProperty("event").GetProperty("name").GetString()));
    }

    [Fact]
    public void Replay_aborts_a_rule_stuck_in_its_first_framework_call_and_the_rules_after_it_see_every_event() =>
        AssertStuckRulesAborted(stuck: 1, Sentinel);

    [Fact]
    public void Replay_aborts_a_second_stuck_rule_after_the_first_abort_on_a_new_thread() =>
        // The runtime lands no second abort on a thread that took one: without a new thread this replay never ends.
        AssertStuckRulesAborted(stuck: 2, Sentinel);

    [Fact]
    public void Replay_started_by_a_thread_with_the_runtime_abort_signal_blocked_still_aborts_a_stuck_rule()
    {
        // A child inherits the mask of the thread that starts it; a test host thread that took an abort has the signal
        // blocked, and a replay it started could never abort its rule.
        Exception? failure = null;
        var starter = new Thread(() =>
        {
            try
            {
                BlockedSignal.BlockRuntimeActivation();
                AssertStuckRulesAborted(stuck: 1, Sentinel);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        starter.Start();
        starter.Join();
        if (failure is not null) throw new Xunit.Sdk.XunitException("the replay started with the signal blocked: " + failure);
    }

    private static void AssertStuckRulesAborted(int stuck, Func<string[], Run> sentinel)
    {
        using var dir = new RuleDirectory();
        TestRules.WriteStuckThenEvery(dir, stuck);
        var events = Path.Combine(dir.Path, "events.jsonl");
        var lines = FixtureEvents("snt-0007-compat-syscall.fixtures.jsonl");
        File.WriteAllLines(events, lines);

        // Minutes of work in each HashSet constructor, unless the guard aborts it at the rule's 1 s of CPU.
        var run = sentinel(["replay", events, "--rules", dir.Path, "--format", "json"]);

        Assert.Equal(1, run.ExitCode);
        for (var n = 0; n < stuck; n++)
            Assert.Contains($"SNT-99{n}1", run.Stderr);
        Assert.Equal(stuck, run.Stderr.Split("aborted inside a framework call").Length - 1);
        var detections = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("ruleId").GetString()).ToList();
        Assert.Equal(Enumerable.Repeat("SNT-9902", lines.Length), detections); // the interrupted events included
    }

    [Fact]
    public void Replay_of_benign_events_exits_0_with_no_output()
    {
        using var dir = new RuleDirectory();
        var events = Path.Combine(dir.Path, "events.jsonl");
        File.WriteAllLines(events, FixtureEvents("snt-0007-compat-syscall.fixtures.jsonl").Skip(2));

        var run = Sentinel("replay", events, "--rules", RepoPaths.Rules, "--format", "pretty");

        Assert.Equal((0, ""), (run.ExitCode, run.Stdout));
    }

    [Fact]
    public void Replay_reports_every_bad_line_at_its_json_path_replays_the_rest_and_exits_2()
    {
        using var dir = new RuleDirectory();
        var events = Path.Combine(dir.Path, "bad.jsonl");
        var fires = FixtureEvents("snt-0007-compat-syscall.fixtures.jsonl")[0];
        var quiet = FixtureEvents("snt-0007-compat-syscall.fixtures.jsonl")[2];
        File.WriteAllLines(events,
        [
            quiet,
            System.Text.RegularExpressions.Regex.Replace(quiet, "(\"name\":\"pid\"[^}]*)\"intValue\"", "$1\"pointer\""),
            quiet.Replace("\"comm\"", "\"comand\""),
            "{\"name\":",
            fires,
        ]);

        var run = Sentinel("replay", events, "--rules", RepoPaths.Rules, "--format", "json");

        Assert.Equal(2, run.ExitCode);
        var errors = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith(events)).ToList();
        Assert.True(3 == errors.Count, run.Stderr);
        Assert.StartsWith($"{events}:2: args[0]: argument \"pid\" takes exactly one \"intValue\", got \"pointer\"", errors[0]);
        Assert.StartsWith($"{events}:3: context.comand: unknown field \"comand\" in ProcessContext; did you mean \"comm\"?", errors[1]);
        Assert.StartsWith($"{events}:4: json: ", errors[2]);
        Assert.Contains("3 bad line(s)", run.Stderr);
        Assert.Contains("SNT-0007", run.Stdout); // line 5 was still replayed
        Assert.DoesNotContain("   at ", run.Stderr); // no stack trace
    }

    [Fact]
    public void Replay_with_an_unknown_format_exits_2()
    {
        var events = Path.Combine(RepoPaths.Rules, "snt-0007-compat-syscall.fixtures.jsonl");

        var run = Sentinel("replay", events, "--format", "xml");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("unknown format 'xml'", run.Stderr);
    }

    [Fact]
    public void Replay_with_an_empty_rules_directory_is_refused_unless_no_rules()
    {
        using var dir = new RuleDirectory();
        var events = Path.Combine(dir.Path, "events.jsonl");
        File.WriteAllLines(events, FixtureEvents("snt-0007-compat-syscall.fixtures.jsonl"));
        var empty = Directory.CreateDirectory(Path.Combine(dir.Path, "rules")).FullName;

        var refused = Sentinel("replay", events, "--rules", empty);
        var none = Sentinel("replay", events, "--no-rules");

        Assert.Equal(2, refused.ExitCode);
        Assert.Equal($"sentinel: {empty}: no .csx rule files (run 'sentinel rules new NAME' to start one, or pass --no-rules to evaluate none)",
            refused.Stderr.Trim());
        Assert.Equal((0, ""), (none.ExitCode, none.Stdout));
    }

    [Theory]
    [InlineData("replay")]
    [InlineData("run")]
    [InlineData("rules lint")]
    public void A_rules_path_that_is_not_a_csx_file_is_refused_in_one_line(string command)
    {
        using var dir = new RuleDirectory();
        var notes = dir.Write("notes.txt", "remember to write rules");
        var events = dir.Write("events.jsonl", FixtureEvents("snt-0007-compat-syscall.fixtures.jsonl")[0] + "\n");
        string[] args = command switch
        {
            "replay" => ["replay", events, "--rules", notes],
            "run" => ["run", "--no-server", "--rules", notes],
            _ => ["rules", "lint", notes],
        };

        var run = Sentinel(args);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal($"sentinel: {notes}: not a rule file (rules are C# scripts named *.csx)", run.Stderr.Trim());
    }

    [Fact]
    public void A_broken_and_a_duplicate_rule_file_do_not_take_the_pack_down_unless_strict()
    {
        using var dir = new RuleDirectory();
        dir.Write("a-good.csx", TestRules.Rule("SNT-9001", "findings.Add(\"good\");"));
        var broken = dir.Write("b-broken.csx", TestRules.Rule("SNT-9002", "findings.Add(e.Comand);"));
        var duplicate = dir.Write("c-duplicate.csx", TestRules.Rule("SNT-9001", "findings.Add(\"dup\");"));
        var events = dir.Write("events.jsonl", FixtureEvents("snt-0007-compat-syscall.fixtures.jsonl")[0] + "\n");

        var replay = Sentinel("replay", events, "--rules", dir.Path, "--format", "json");
        var strict = Sentinel("replay", events, "--rules", dir.Path, "--strict");
        var run = Sentinel("run", "--no-server", "--strict", "--rules", dir.Path);

        Assert.Equal(1, replay.ExitCode);
        Assert.Contains("\"good\"", replay.Stdout);
        Assert.Contains($"{broken}:", replay.Stderr);
        Assert.Contains("did you mean 'Comm'?", replay.Stderr);
        Assert.Contains($"{duplicate}:", replay.Stderr);
        Assert.Contains("duplicate rule id SNT-9001", replay.Stderr);
        Assert.Contains("2 file(s) failed to load; the others run", replay.Stderr);
        Assert.Equal(2, strict.ExitCode);
        Assert.Contains("2 rule file(s) failed to load and --strict is set", strict.Stderr);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--strict is set", run.Stderr);
    }

    [Fact]
    public void Lint_reports_what_the_loader_refuses_and_exits_1()
    {
        using var dir = new RuleDirectory();
        dir.Write("a.csx", TestRules.Rule("SNT-9001", ""));
        var second = dir.Write("b.csx", TestRules.Rule("SNT-9001", ""));

        var run = Sentinel("rules", "lint", dir.Path);

        Assert.Equal(1, run.ExitCode);
        Assert.Matches($@"{Regex.Escape(second)}:\d+:\d+: error SNT1004: duplicate rule id SNT-9001", run.Stdout);
        Assert.DoesNotContain(":1:1:", run.Stdout);
    }

    [Fact]
    public void New_writes_to_the_current_directory_by_default()
    {
        using var dir = new RuleDirectory();

        var created = SentinelIn(dir.Path, "rules", "new", "large-migration");

        Assert.Equal(0, created.ExitCode);
        Assert.True(File.Exists(Path.Combine(dir.Path, "snt-1001-large-migration.csx")), created.Stdout + created.Stderr);
        Assert.False(File.Exists(Path.Combine(RepoPaths.Rules, "snt-1001-large-migration.csx")));
    }

    // The built-in fixtures' events as a recording holds them: whole events (fixtures give only what differs
    // from the defaults), one a line, compact as fixtures write them.
    private static string[] FixtureEvents(string fixture) =>
        File.ReadAllLines(Path.Combine(RepoPaths.Rules, fixture))
            .Select(l =>
            {
                var evt = new global::Sentinel.Events.MovePagesEvent();
                global::Sentinel.Rules.Testing.FixtureEvents.Parse(JsonDocument.Parse(l).RootElement.GetProperty("event"), "event", evt);
                return System.Text.Json.Nodes.JsonNode.Parse(global::Sentinel.Contracts.EventJson.Format(evt))!.ToJsonString();
            })
            .ToArray();

    private sealed record Run(int ExitCode, string Stdout, string Stderr);

    private static Run Sentinel(params string[] args) => SentinelIn(RepoPaths.Root, args);

    private static Run SentinelIn(string workingDirectory, params string[] args)
    {
        var (code, stdout, stderr) = ChildProcess.Run(SentinelProcess.Binary, args, 120, workingDirectory);
        return new Run(code, stdout, stderr);
    }
}

/// <summary>Blocks, on the calling thread, the signal the runtime aborts a thread with (SIGRTMIN).</summary>
internal static partial class BlockedSignal
{
    public static void BlockRuntimeActivation()
    {
        var set = new ulong[16];
        var bit = CurrentSigRtMin() - 1;
        set[bit / 64] |= 1UL << (bit % 64);
        Assert.Equal(0, pthread_sigmask(0 /* SIG_BLOCK */, set, null));
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "__libc_current_sigrtmin")]
    private static partial int CurrentSigRtMin();

    [System.Runtime.InteropServices.LibraryImport("libc")]
    private static partial int pthread_sigmask(int how, ulong[] set, ulong[]? oldSet);
}
