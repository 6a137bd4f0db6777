using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Rules.Testing;
using Sentinel.TestSupport;

namespace Sentinel.Rules.Tests;

public sealed class BuiltInRuleTests
{
    public static TheoryData<string> RuleFiles() =>
        new(RuleDirectories.RuleFiles(RepoPaths.Rules).Select(Path.GetFileName)!);

    [Theory]
    [MemberData(nameof(RuleFiles))]
    public void Fixtures_pass(string fileName)
    {
        var report = new FixtureRunner(TestRules.Options(), NullLogger.Instance).Run(Path.Combine(RepoPaths.Rules, fileName));

        Assert.True(report.Passed, string.Join("\n",
            report.Diagnostics.Select(d => d.ToString())
                .Concat(report.Problem is null ? [] : [report.Problem])
                .Concat(report.Cases.Where(c => !c.Passed).Select(c => $"{c.Case}: {c.Failure}"))));
        Assert.True(report.Cases.Count >= 3);
    }

    [Fact]
    public void The_pack_has_the_eight_rules_of_the_issue_with_valid_metadata()
    {
        using var engine = TestRules.Load(RepoPaths.Rules);

        Assert.Empty(engine.Diagnostics);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => $"SNT-{i:D4}"), engine.Rules.Select(r => r.Id).Order());
        Assert.All(engine.Rules, r =>
        {
            Assert.NotEmpty(r.MitreTactics);
            Assert.NotEmpty(r.MitreTechniques);
            Assert.True(r.Description.Length > 100, $"{r.Id}: the description must justify severity and MITRE");
            Assert.EndsWith(".csx", r.File);
        });
    }

    [Fact]
    public void A_fixture_whose_expectation_is_wrong_fails()
    {
        using var dir = new RuleDirectory();
        var rule = Path.Combine(RepoPaths.Rules, "snt-0007-compat-syscall.csx");
        var copy = dir.Write("compat.csx", File.ReadAllText(rule));
        var fixtures = File.ReadAllLines(RuleDirectories.FixturePath(rule))
            .Select(l => l.Contains("\"fires\":false") ? l.Replace("\"fires\":false", "\"fires\":true") : l);
        File.WriteAllLines(RuleDirectories.FixturePath(copy), fixtures);

        var report = new FixtureRunner(TestRules.Options(), NullLogger.Instance).Run(copy);

        Assert.False(report.Passed);
        var failed = Assert.Single(report.Cases, c => !c.Passed);
        Assert.Equal("native 64-bit call", failed.Case);
        Assert.Contains("expected the rule to fire, it did not", failed.Failure);
    }

    [Fact]
    public void A_malformed_fixture_names_the_line_and_field()
    {
        using var dir = new RuleDirectory();
        var rule = dir.Write("compat.csx", File.ReadAllText(Path.Combine(RepoPaths.Rules, "snt-0007-compat-syscall.csx")));
        File.WriteAllLines(RuleDirectories.FixturePath(rule),
        [
            """{"case":"ok","fires":false,"event":{"name":"move_pages","args":[{"name":"pid","intValue":"0"},{"name":"count","uintValue":"1"},{"name":"pages","pointer":"1"},{"name":"nodes","pointer":"1"},{"name":"status","pointer":"1"},{"name":"flags","intValue":"2"}]}}""",
            """{"case":"bad","fires":true,"event":{"name":"move_pages","args":[{"name":"pid","pointer":"0"}]}}""",
        ]);

        var report = new FixtureRunner(TestRules.Options(), NullLogger.Instance).Run(rule);

        var bad = Assert.Single(report.BadLines);
        Assert.Equal((2, "event.args[0]"), (bad.Line, bad.Field));
        Assert.Contains("argument \"pid\" takes exactly one \"intValue\", got \"pointer\"", bad.Reason);
        Assert.False(report.Passed);
    }

    [Fact]
    public void The_burst_rule_threshold_and_window_are_configurable()
    {
        var options = TestRules.Options() with
        {
            Parameters = new Dictionary<string, string> { ["SNT-0005.threshold"] = "2", ["SNT-0005.window"] = "1s" },
        };
        using var engine = TestRules.Load(Path.Combine(RepoPaths.Rules, "snt-0005-failed-call-burst.csx"), options);
        var sink = new ListSink();

        engine.Evaluate(TestRules.Event(target: 7, ret: -3, timeSeconds: 0), sink);
        engine.Evaluate(TestRules.Event(target: 8, ret: -3, timeSeconds: 2), sink); // outside the 1 s window
        engine.Evaluate(TestRules.Event(target: 9, ret: -1, timeSeconds: 2), sink); // the second within it

        var detection = Assert.Single(sink.Detections);
        Assert.Equal("2", detection.Fields["failures"]);
        Assert.Equal(9, detection.Event.TargetPid);
    }
}
