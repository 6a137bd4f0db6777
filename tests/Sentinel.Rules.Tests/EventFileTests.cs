using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Rules.Testing;

namespace Sentinel.Rules.Tests;

/// <summary>Recorded event files read through the fixture reader's schema check; parsed fixtures from the cache.</summary>
public sealed class EventFileTests
{
    private static string Whole(string partialJson)
    {
        using var document = System.Text.Json.JsonDocument.Parse(partialJson);
        var evt = new MovePagesEvent();
        FixtureEvents.Parse(document.RootElement, "event", evt);
        return EventJson.Format(evt).ReplaceLineEndings(" ");
    }

    [Fact]
    public void A_line_of_gigabytes_costs_one_bad_line_not_the_memory_to_hold_it()
    {
        using var dir = new RuleDirectory();
        var good = Whole("""{"context":{"comm":"numactl"}}""");
        var file = Path.Combine(dir.Path, "forged.jsonl");
        using (var writer = new StreamWriter(file))
        {
            writer.Write(good + "\r\n{\"name\":\"");
            // Past the limit, in pieces: the reader must skip it without ever holding it.
            var chunk = new string('A', 1 << 20);
            for (var i = 0; i <= JsonLines.MaxLineChars >> 20; i++) writer.Write(chunk);
            writer.Write("\"}\n\n" + good); // the last line has no newline
        }

        var lines = EventFile.Read(file).ToList();

        Assert.Equal([1, 2, 4], lines.Select(l => l.Line));
        Assert.NotNull(lines[0].Event);
        Assert.Contains("a line of over", lines[1].Error!.Message);
        Assert.Equal("numactl", lines[2].Event!.Comm);
    }

    [Fact]
    public void Lines_are_split_as_text_readers_split_them_whatever_the_buffer_boundaries()
    {
        var text = string.Concat(Enumerable.Range(1, 60_000).Select(i => i % 7 == 0 ? "\r\n" : i % 5 == 0 ? "  \n" : $"line {i}\r\n"));
        var expected = new List<(int, string?)>();
        using (var reader = new StringReader(text))
        {
            var n = 0;
            while (reader.ReadLine() is { } line)
                if (++n > 0 && !string.IsNullOrWhiteSpace(line)) expected.Add((n, line));
        }

        Assert.Equal(expected, JsonLines.NonBlank(new StringReader(text)).ToList());
        Assert.Equal([(1, "ab"), (2, null), (3, "c")], JsonLines.NonBlank(new StringReader("ab\nabcdef\nc"), maxChars: 3).ToList());
    }

    [Fact]
    public void Every_bad_line_of_an_event_file_is_reported_at_its_json_path_and_the_good_lines_are_read()
    {
        using var dir = new RuleDirectory();
        var good = Whole("""{"context":{"comm":"numactl"},"args":[{"name":"pid","intValue":"5150"}]}""");
        var file = dir.Write("recorded.jsonl", string.Join("\n",
        [
            good,
            good.Replace("\"comm\"", "\"comand\""),
            "",
            "not json",
            good.Replace("\"uintValue\": \"1\"", "\"uintValue\": \"lots\""),
            "[]",
            good.Replace("\"ATTACH_STRATEGY_TRACEPOINT\"", "\"tracepoint\""),
            good,
        ]) + "\n");

        var lines = EventFile.Read(file).ToList();

        Assert.Equal([1, 2, 4, 5, 6, 7, 8], lines.Select(l => l.Line));
        Assert.Equal([(2, "context.comand"), (4, "json"), (5, "args[1].uintValue"), (6, "json"), (7, "strategy")],
            lines.Where(l => l.Error is not null).Select(l => (l.Line, l.Error!.Field)));
        Assert.Equal($"{file}:2: context.comand: unknown field \"comand\" in ProcessContext; did you mean \"comm\"?", lines[1].Error!.Message);
        Assert.Contains("did you mean \"ATTACH_STRATEGY_TRACEPOINT\"?", lines[5].Error!.Reason);
        Assert.All([lines[0], lines[^1]], l => Assert.Equal((5150, "numactl"), (l.Event!.TargetPid, l.Event.Comm)));
    }

    [Fact]
    public void A_recorded_event_takes_no_fixture_defaults()
    {
        using var dir = new RuleDirectory();
        var file = dir.Write("recorded.jsonl", """
            {"name":"move_pages","context":{"pid":7},"args":[{"name":"pid","intValue":"0"},{"name":"count","uintValue":"1"},{"name":"pages","pointer":"4096"},{"name":"nodes","pointer":"0"},{"name":"status","pointer":"8192"},{"name":"flags","intValue":"0"},{"name":"return","intValue":"0"}]}
            """ + "\n");

        var line = Assert.Single(EventFile.Read(file));
        Assert.Null(line.Error);
        var evt = line.Event!;

        // Omitted fields are zero as in the protobuf mapping, not the fixture defaults (uid 1000, comm "app").
        Assert.Equal((7, 0u, ""), (evt.Pid, evt.Uid, evt.Comm));
    }

    [Theory]
    [InlineData("3", new[] { 3 })]
    [InlineData("3-7,9", new[] { 3, 4, 5, 6, 7, 9 })]
    [InlineData(" 9, 2-3 ,3 ", new[] { 2, 3, 9 })]
    [InlineData("5-5", new[] { 5 })]
    public void Line_selections_take_numbers_ranges_and_lists(string text, int[] lines)
    {
        var selection = LineSelection.Parse(text);

        Assert.Equal(lines, selection.Lines);
        Assert.Equal(lines.Max(), selection.Last);
        Assert.False(selection.Contains(lines.Max() + 1));
    }

    [Theory]
    [InlineData("", "got nothing")]
    [InlineData("0", "line numbers start at 1")]
    [InlineData("-2", "line numbers start at 1")]
    [InlineData("7-3", "range \"7-3\" runs backwards (write 3-7)")]
    [InlineData("3,,4", "empty item")]
    [InlineData("three", "\"three\" is not a line number")]
    [InlineData("1-x", "\"x\" is not a line number")]
    [InlineData("1-2-3", "\"2-3\" is not a line number")]
    public void Bad_line_selections_say_what_is_wrong(string text, string message)
    {
        var ex = Assert.Throws<FormatException>(() => LineSelection.Parse(text));

        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Parsed_fixtures_come_from_the_cache_with_the_same_verdicts_and_an_edit_misses_it()
    {
        using var dir = new RuleDirectory();
        using var cache = new RuleDirectory();
        var rule = dir.Write("r.csx", TestRules.Rule("SNT-9001", "if (e.TargetPid != 0) findings.Add(\"cross\");"));
        var fixtures = RuleDirectories.FixturePath(rule);
        File.WriteAllLines(fixtures,
        [
            """{"case":"cross","fires":true,"event":{"args":[{"name":"pid","intValue":"5150"}]}}""",
            """{"case":"self","fires":false,"event":{"context":{"comm":"bash"}}}""",
            """{"case":"wrong","fires":true,"event":{}}""",
        ]);
        var runner = new FixtureRunner(TestRules.Options(cache.Path), NullLogger.Instance);

        var first = runner.Run(rule);
        var entries = Directory.GetFiles(cache.Path, "*.fixtures");
        var second = runner.Run(rule);

        Assert.Single(entries);
        Assert.Equal([("cross", true), ("self", true), ("wrong", false)], first.Cases.Select(c => (c.Case, c.Passed)));
        Assert.Equal(first.Cases, second.Cases);

        // A corrupt entry is a miss, never a wrong verdict.
        File.WriteAllBytes(entries[0], [1, 0, 0, 0, 9]);
        Assert.Equal(first.Cases, runner.Run(rule).Cases);

        // The key is the file's content: an edit is read afresh.
        File.WriteAllText(fixtures, File.ReadAllText(fixtures).Replace("\"case\":\"wrong\",\"fires\":true", "\"case\":\"wrong\",\"fires\":false"));
        Assert.All(runner.Run(rule).Cases, c => Assert.True(c.Passed, c.Failure));
    }

    [Fact]
    public void The_rule_api_declares_the_agents_event_catalog_for_editors()
    {
        var declared = typeof(Rule).Assembly.GetCustomAttributes(typeof(RuleEventAttribute), false)
            .Cast<RuleEventAttribute>().Select(a => a.Name).Order();

        Assert.Equal(EventCatalog.All.Select(e => e.Name).Order(), declared);
        Assert.Equal(RuleMetadata.KnownEvents.Order(), declared);
    }

    [Fact]
    public void A_fixture_file_with_a_bad_line_is_not_cached()
    {
        using var dir = new RuleDirectory();
        using var cache = new RuleDirectory();
        var rule = dir.Write("r.csx", TestRules.Rule("SNT-9001", "if (e.TargetPid != 0) findings.Add(\"cross\");"));
        File.WriteAllLines(RuleDirectories.FixturePath(rule), ["""{"case":"typo","fires":false,"event":{"context":{"comand":"x"}}}"""]);

        var report = new FixtureRunner(TestRules.Options(cache.Path), NullLogger.Instance).Run(rule);

        Assert.Single(report.BadLines);
        Assert.Empty(Directory.GetFiles(cache.Path, "*.fixtures"));
    }
}
