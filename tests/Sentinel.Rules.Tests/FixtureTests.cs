using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Rules.Testing;
using Sentinel.TestSupport;

namespace Sentinel.Rules.Tests;

/// <summary>Partial fixture events, their defaults, the JSON path of every bad line, and recorded events made fixtures.</summary>
public sealed class FixtureTests
{
    private static MovePagesEvent ParsePartial(string json)
    {
        using var document = JsonDocument.Parse(json);
        var evt = new MovePagesEvent();
        FixtureEvents.Parse(document.RootElement, "event", evt);
        return evt;
    }

    [Fact]
    public void A_partial_event_takes_the_defaults_for_every_field_it_omits()
    {
        var evt = ParsePartial("""{"context":{"comm":"bash"},"args":[{"name":"pid","intValue":"5150"}],"returnValue":"-1"}""");

        Assert.Equal(("bash", 5150, -1L), (evt.Comm, evt.TargetPid, evt.ReturnValue));
        var defaults = ParsePartial("{}");
        Assert.Equal((1000, 1000, 1000u, 1UL, 0, 0UL), (evt.Pid, evt.Tid, evt.Uid, evt.Count, evt.Flags, evt.NodesAddress));
        Assert.Equal((defaults.Pid, defaults.MountNamespace, defaults.PidNamespace, defaults.TimeUnixNs),
            (evt.Pid, evt.MountNamespace, evt.PidNamespace, evt.TimeUnixNs));
        Assert.Equal(FixtureRunner.FixtureHost.MountNamespace, defaults.MountNamespace);
        Assert.Equal(0L, defaults.ReturnValue);
    }

    [Fact]
    public void The_return_argument_alone_sets_the_return_value()
    {
        Assert.Equal(-13, ParsePartial("""{"args":[{"name":"return","intValue":"-13"}]}""").ReturnValue);
        var ex = Assert.Throws<FixtureFieldException>(() => ParsePartial("""{"args":[{"name":"return","intValue":"-13"}],"returnValue":"0"}"""));
        Assert.Equal("event.returnValue", ex.Path);
    }

    [Fact]
    public void Copies_given_without_a_count_are_counted()
    {
        var evt = ParsePartial("""{"copies":{"pagesAtEntry":["4096","8192"],"pagesAtExit":["4096","12288"]}}""");

        Assert.Equal(2, evt.CopiedCount);
        Assert.True(evt.HasToctouEvidence);
    }

    [Theory]
    [MemberData(nameof(BuiltInRuleTests.RuleFiles), MemberType = typeof(BuiltInRuleTests))]
    public void The_default_event_fires_no_builtin_rule(string fileName)
    {
        using var dir = new RuleDirectory();
        var rule = dir.Write(fileName, File.ReadAllText(Path.Combine(RepoPaths.Rules, fileName)));
        File.WriteAllText(RuleDirectories.FixturePath(rule), """{"case":"defaults","fires":false,"event":{}}""" + "\n");

        var report = new FixtureRunner(TestRules.Options(), NullLogger.Instance).Run(rule);

        var result = Assert.Single(report.Cases);
        Assert.True(result.Passed, result.Failure);
    }

    [Fact]
    public void The_docs_show_the_defaults_the_code_uses()
    {
        var doc = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "RULES.md"));

        Assert.Contains(FixtureEvents.DefaultsJson, doc);
    }

    [Fact]
    public void Minimizing_a_recorded_event_keeps_only_what_differs_and_parses_back_to_the_same_event()
    {
        var lines = RuleDirectories.RuleFiles(RepoPaths.Rules)
            .SelectMany(r => File.ReadAllLines(RuleDirectories.FixturePath(r)))
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("event"))
            .ToList();
        Assert.True(lines.Count > 20);
        foreach (var line in lines)
        {
            var recorded = new MovePagesEvent();
            FixtureEvents.Parse(line, "event", recorded);
            var full = EventJson.Format(recorded);

            var minimized = FixtureEvents.Minimize(recorded).ToJsonString();

            Assert.Equal(full, EventJson.Format(ParsePartial(minimized)));
            Assert.True(minimized.Length < full.Length * 3 / 4, minimized);
            Assert.DoesNotContain("\"tags\"", minimized);
        }
        Assert.Equal("{}", FixtureEvents.Minimize(ParsePartial("{}")).ToJsonString());
    }

    [Fact]
    public void The_builtin_fixtures_state_only_what_differs_from_the_defaults()
    {
        foreach (var rule in RuleDirectories.RuleFiles(RepoPaths.Rules))
        {
            var lineNumber = 0;
            foreach (var line in File.ReadAllLines(RuleDirectories.FixturePath(rule)))
            {
                lineNumber++;
                var given = System.Text.Json.Nodes.JsonNode.Parse(line)!["event"];
                var minimal = FixtureEvents.Minimize(ParsePartial(given!.ToJsonString()));
                Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(minimal, given),
                    $"{Path.GetFileName(RuleDirectories.FixturePath(rule))}:{lineNumber} repeats defaults; minimal: {minimal.ToJsonString()}");
            }
        }
    }

    [Theory]
    [InlineData("""{"context":{"comand":"x"}}""", "event.context.comand", "unknown field \"comand\" in ProcessContext; did you mean \"comm\"?")]
    [InlineData("""{"args":[{"name":"pid","intValue":"1"},{"name":"flags","intValue":"abc"}]}""", "event.args[1].intValue", "expected an integer (int64")]
    [InlineData("""{"args":[{"name":"pdi","intValue":"1"}]}""", "event.args[0].name", "unknown argument \"pdi\"; did you mean \"pid\"?")]
    [InlineData("""{"args":[{"name":"count","intValue":"1"}]}""", "event.args[0]", "argument \"count\" takes exactly one \"uintValue\", got \"intValue\"")]
    [InlineData("""{"time":"yesterday"}""", "event.time", "expected an RFC 3339 time")]
    [InlineData("""{"strategy":"TRACEPOINT"}""", "event.strategy", "did you mean \"ATTACH_STRATEGY_TRACEPOINT\"?")]
    [InlineData("""{"context":{"pid":3000000000}}""", "event.context.pid", "expected an integer (int32")]
    [InlineData("""{"enrichment":{"caller":{"args":"sh"}}}""", "event.enrichment.caller.args", "expected an array, got a string")]
    [InlineData("""{"copies":{"copied":2,"status":[1]}}""", "event.copies.status", "expected 2 entries")]
    [InlineData("""{"context":[]}""", "event.context", "expected an object (ProcessContext), got an array")]
    public void A_bad_field_is_reported_at_its_full_json_path(string json, string path, string message)
    {
        var ex = Assert.Throws<FixtureFieldException>(() => ParsePartial(json));

        Assert.Equal(path, ex.Path);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Every_bad_line_is_reported_not_only_the_first()
    {
        using var dir = new RuleDirectory();
        var rule = dir.Write("r.csx", TestRules.Rule("SNT-9001", "if (e.TargetPid != 0) findings.Add(\"cross\");"));
        File.WriteAllLines(RuleDirectories.FixturePath(rule),
        [
            """{"case":"fires","fires":true,"event":{"args":[{"name":"pid","intValue":"5150"}]}}""",
            """{"case":"typo","fires":false,"event":{"context":{"comand":"x"}}}""",
            "",
            """{"case":"quiet","fire":false,"event":{}}""",
            """not json""",
            """{"case":"quiet","fires":false,"event":{}}""",
        ]);

        var report = new FixtureRunner(TestRules.Options(), NullLogger.Instance).Run(rule);

        Assert.Equal([(2, "event.context.comand"), (4, "fire"), (5, "json")], report.BadLines.Select(b => (b.Line, b.Field)));
        Assert.Contains("did you mean \"fires\"?", report.BadLines[1].Reason);
        Assert.Empty(report.Cases);
        Assert.False(report.Passed);
    }
}
