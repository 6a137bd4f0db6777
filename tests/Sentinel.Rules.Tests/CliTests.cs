using System.Diagnostics;
using System.Text.Json;
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
    public void Replay_of_benign_events_exits_0_with_no_output()
    {
        using var dir = new RuleDirectory();
        var events = Path.Combine(dir.Path, "events.jsonl");
        File.WriteAllLines(events, FixtureEvents("snt-0007-compat-syscall.fixtures.jsonl").Skip(2));

        var run = Sentinel("replay", events, "--rules", RepoPaths.Rules, "--format", "pretty");

        Assert.Equal((0, ""), (run.ExitCode, run.Stdout));
    }

    [Fact]
    public void Replay_of_a_malformed_event_file_names_line_and_field_and_exits_2()
    {
        using var dir = new RuleDirectory();
        var events = Path.Combine(dir.Path, "bad.jsonl");
        var good = FixtureEvents("snt-0007-compat-syscall.fixtures.jsonl")[2];
        File.WriteAllLines(events, [good, good.Replace("\"intValue\":\"0\"", "\"pointer\":\"0\""), good]);

        var run = Sentinel("replay", events, "--rules", RepoPaths.Rules);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"{events}:2: field 'args[pid]'", run.Stderr);
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

    private static string[] FixtureEvents(string fixture) =>
        File.ReadAllLines(Path.Combine(RepoPaths.Rules, fixture))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("event").GetRawText())
            .ToArray();

    private sealed record Run(int ExitCode, string Stdout, string Stderr);

    private static Run Sentinel(params string[] args)
    {
        var start = new ProcessStartInfo(SentinelBinary())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepoPaths.Root,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "sentinel did not exit");
        return new Run(process.ExitCode, stdout.Result, stderr.Result);
    }

    // The apphost is copied next to this assembly by the project reference, which also orders the build.
    private static string SentinelBinary() => SentinelProcess.Binary;
}
