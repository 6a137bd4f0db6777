using System.Text.Json;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Rules.Testing;
using Sentinel.TestSupport;

namespace Sentinel.Rules.Tests;

/// <summary>`sentinel rules fixture add` and `rules test` (bad lines, --watch) through the built binary.</summary>
public sealed class FixtureCliTests
{
    private static readonly string BuiltInFixture = Path.Combine(RepoPaths.Rules, "snt-0001-cross-process-migration.fixtures.jsonl");

    // A recording as `sentinel record` writes it: whole events, one a line, in the canonical mapping.
    private static string Record(RuleDirectory dir) =>
        dir.Write("recorded.jsonl", string.Join("\n", File.ReadAllLines(BuiltInFixture).Select(Recorded)) + "\n");

    /// <summary>A fixture line's event as a recorded line.</summary>
    private static string Recorded(string fixtureLine)
    {
        var evt = new MovePagesEvent();
        FixtureEvents.Parse(JsonDocument.Parse(fixtureLine).RootElement.GetProperty("event"), "event", evt);
        return EventJson.Format(evt).ReplaceLineEndings(" ");
    }

    private static (string Rule, string Fixtures) NewRule(RuleDirectory dir)
    {
        var created = SentinelProcess.Run("rules", "new", "big-query", "--dir", dir.Path);
        Assert.Equal(0, created.ExitCode);
        var rule = Path.Combine(dir.Path, "snt-1001-big-query.csx");
        return (rule, RuleDirectories.FixturePath(rule));
    }

    [Fact]
    public void Fixture_add_appends_a_recorded_line_as_a_partial_event_that_parses_back_to_it()
    {
        using var dir = new RuleDirectory();
        var (rule, fixtures) = NewRule(dir);
        var recorded = Record(dir);
        var before = File.ReadAllLines(fixtures).Length;

        var run = SentinelProcess.Run("rules", "fixture", "add", "SNT-1001", "--rules", dir.Path, "--from", recorded, "--line", "2",
            "--fires", "false", "--case", "refused cross-process call");

        Assert.Equal((0, ""), (run.ExitCode, run.Stderr));
        Assert.Contains("added 1 line(s)", run.Stdout);
        Assert.Contains("PASS  SNT-1001  refused cross-process call", run.Stdout);
        var lines = File.ReadAllLines(fixtures);
        Assert.Equal(before + 1, lines.Length);
        var added = JsonDocument.Parse(lines[^1]).RootElement;
        Assert.Equal(("refused cross-process call", false), (added.GetProperty("case").GetString(), added.GetProperty("fires").GetBoolean()));
        var parsed = new MovePagesEvent();
        FixtureEvents.Parse(added.GetProperty("event"), "event", parsed);
        Assert.Equal(File.ReadAllLines(recorded)[1], EventJson.Format(parsed).ReplaceLineEndings(" "));
        Assert.DoesNotContain("\"tags\"", lines[^1]);
        Assert.Equal(0, SentinelProcess.Run("rules", "test", rule).ExitCode);
    }

    [Fact]
    public void Fixture_add_of_a_missed_event_shows_the_case_failing_until_the_rule_catches_it()
    {
        using var dir = new RuleDirectory();
        var (rule, _) = NewRule(dir);
        var recorded = Record(dir);

        // Every recorded event (4 pages or fewer) as one case the rule should fire on: it does not yet.
        var run = SentinelProcess.Run("rules", "fixture", "add", rule, "--from", recorded, "--fires", "true", "--case", "recorded burst");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains($"added {File.ReadAllLines(recorded).Length} line(s)", run.Stdout);
        Assert.Contains("FAIL  SNT-1001  recorded burst: line 3: expected the rule to fire, it did not", run.Stdout);
        var test = SentinelProcess.Run("rules", "test", rule);
        Assert.Equal(1, test.ExitCode);
        Assert.Contains("FAIL  SNT-1001  recorded burst", test.Stdout);
    }

    [Fact]
    public void Fixture_add_refuses_bad_input_in_one_line_with_exit_2()
    {
        using var dir = new RuleDirectory();
        var (rule, fixtures) = NewRule(dir);
        var recorded = Record(dir);
        var original = File.ReadAllText(fixtures);
        var broken = dir.Write("broken.jsonl", File.ReadAllLines(recorded)[0] + "\n" + """{"name":"move_pages","context":{"comand":"x"}}""" + "\n");

        (string[] Args, string Error)[] cases =
        [
            (["--from", broken, "--fires", "true", "--case", "x"], "broken.jsonl:2: context.comand: unknown field \"comand\" in ProcessContext; did you mean \"comm\"?"),
            (["--from", recorded, "--line", "99", "--fires", "true", "--case", "x"], "--line: asks for line 99, but"),
            (["--from", recorded, "--line", "2-x", "--fires", "true", "--case", "x"], "--line: \"x\" is not a line number"),
            (["--from", recorded, "--line", "4-2", "--fires", "true", "--case", "x"], "--line: range \"4-2\" runs backwards"),
            (["--from", recorded, "--line", "0", "--fires", "true", "--case", "x"], "--line: line 0: line numbers start at 1"),
            (["--from", recorded, "--fires", "true", "--case", "a 4096-page request fires", "--line", "1"], "case \"a 4096-page request fires\" already exists"),
            (["--from", recorded, "--case", "x"], "--fires"),
            (["--from", recorded, "--fires", "maybe", "--case", "x"], "maybe"),
        ];
        foreach (var (args, error) in cases)
        {
            var run = SentinelProcess.Run(["rules", "fixture", "add", rule, .. args]);

            Assert.Equal(2, run.ExitCode);
            Assert.Contains(error, run.Stderr);
            Assert.DoesNotContain("   at ", run.Stderr);
        }
        var unknown = SentinelProcess.Run("rules", "fixture", "add", "SNT-4242", "--rules", dir.Path, "--from", recorded, "--fires", "true", "--case", "x");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("no rule SNT-4242", unknown.Stderr);
        Assert.Equal(original, File.ReadAllText(fixtures));
    }

    [Fact]
    public void Fixture_add_takes_line_ranges_and_lists_in_file_order()
    {
        using var dir = new RuleDirectory();
        var (_, fixtures) = NewRule(dir);
        var recorded = Record(dir);
        var before = File.ReadAllLines(fixtures).Length;

        var run = SentinelProcess.Run("rules", "fixture", "add", "SNT-1001", "--rules", dir.Path, "--from", recorded,
            "--line", "5,1-2", "--fires", "false", "--case", "picked");

        Assert.Equal((0, ""), (run.ExitCode, run.Stderr));
        Assert.Contains("added 3 line(s)", run.Stdout);
        var added = File.ReadAllLines(fixtures)[before..].Select(Recorded);
        var recordedLines = File.ReadAllLines(recorded);
        Assert.Equal([recordedLines[0], recordedLines[1], recordedLines[4]], added);
    }

    [Fact]
    public void Fixture_add_reports_every_bad_recorded_line_and_adds_nothing()
    {
        using var dir = new RuleDirectory();
        var (rule, fixtures) = NewRule(dir);
        var recorded = File.ReadAllLines(Record(dir));
        var broken = dir.Write("broken.jsonl", string.Join("\n",
            [recorded[0], recorded[1].Replace("\"comm\"", "\"cmd\""), "{", recorded[2]]) + "\n");
        var original = File.ReadAllText(fixtures);

        var run = SentinelProcess.Run("rules", "fixture", "add", rule, "--from", broken, "--fires", "true", "--case", "x");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("broken.jsonl:2: context.cmd: unknown field \"cmd\"", run.Stderr);
        Assert.Contains("broken.jsonl:3: json: ", run.Stderr);
        Assert.Contains("2 bad line(s); nothing added", run.Stderr);
        Assert.Equal(original, File.ReadAllText(fixtures));
    }

    [Fact]
    public void Test_reports_every_bad_fixture_line_with_its_json_path_and_exits_2()
    {
        using var dir = new RuleDirectory();
        var (rule, fixtures) = NewRule(dir);
        File.AppendAllLines(fixtures,
        [
            """{"case":"typo","fires":false,"event":{"context":{"comand":"x"}}}""",
            """{"case":"kind","fires":false,"event":{"args":[{"name":"count","uintValue":"many"}]}}""",
        ]);

        var run = SentinelProcess.Run("rules", "test", dir.Path);

        Assert.Equal(2, run.ExitCode);
        var errors = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, errors.Length);
        Assert.StartsWith($"{fixtures}:3: event.context.comand: unknown field \"comand\" in ProcessContext; did you mean \"comm\"?", errors[0]);
        Assert.StartsWith($"{fixtures}:4: event.args[0].uintValue: expected an integer (uint64", errors[1]);
        Assert.Contains("2 bad fixture line(s)", run.Stdout);
        Assert.True(File.Exists(rule));
    }

    [Fact]
    public void Test_watch_reruns_when_a_fixture_or_rule_file_changes()
    {
        using var dir = new RuleDirectory();
        var (rule, fixtures) = NewRule(dir);
        using var watch = SentinelProcess.Start("rules", "test", dir.Path, "--watch");
        int Runs() => watch.StdoutLines.Count(l => l.StartsWith("watching ", StringComparison.Ordinal));
        string LastSummary() => watch.StdoutLines.Last(l => l.Contains(" passed, "));

        // Each step waits for a run after the edit that reports the expected result (an editor's save can arrive
        // as two file events, so there may be an extra run with the same result).
        void RunsAfter(Action edit, string summary, string what)
        {
            var before = Runs();
            edit();
            watch.WaitUntil(() => Runs() > before && LastSummary() == summary, what, 120);
        }

        watch.WaitUntil(() => Runs() >= 1, "the first run", 120);
        Assert.Equal("2 passed, 0 failed", LastSummary());

        // Make the quiet case a 2048-page request: the fixture edit alone must trigger a run, which fails.
        RunsAfter(() => dir.Write(Path.GetFileName(fixtures), File.ReadAllText(fixtures).Replace("\"uintValue\":\"1\"", "\"uintValue\":\"2048\"")),
            "1 passed, 1 failed", "a failing run after the fixture edit");
        Assert.Contains(watch.StdoutLines, l => l.StartsWith("FAIL  SNT-1001  a one-page request does not", StringComparison.Ordinal));

        // Raise the rule's threshold above it: the rule edit triggers a passing run.
        RunsAfter(() => dir.Write(Path.GetFileName(rule), File.ReadAllText(rule).Replace("if (e.Count <= 1024) return;", "if (e.Count <= 3000) return;")),
            "2 passed, 0 failed", "a passing run after the rule edit");

        // A broken fixture is reported and waited out, not fatal.
        RunsAfter(() => dir.Write(Path.GetFileName(fixtures), "not json\n"), "0 passed, 1 failed, 1 bad fixture line(s)", "a run after breaking the fixture");
        // Stderr is read apart from stdout: the report can trail the summary.
        watch.WaitUntil(() => watch.Stderr.Contains(":1: json:", StringComparison.Ordinal), "the bad fixture line reported on stderr");

        if (SigIntIgnored())
        {
            // Started by a background job of a non-interactive shell: SIGINT is ignored, and stays so in the child.
            watch.Signal("TERM");
            watch.WaitForExit(TimeSpan.FromSeconds(30));
            return;
        }
        watch.Signal("INT");
        Assert.Equal(130, watch.WaitForExit(TimeSpan.FromSeconds(30))); // interrupted, as shells report Ctrl+C
    }

    private static bool SigIntIgnored()
    {
        var ignored = File.ReadLines("/proc/self/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return (Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16) & (1UL << (2 - 1))) != 0;
    }
}
