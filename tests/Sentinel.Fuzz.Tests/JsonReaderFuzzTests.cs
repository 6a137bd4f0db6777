using CsCheck;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Rules.Testing;
using Sentinel.TestSupport;

namespace Sentinel.Fuzz.Tests;

/// <summary>
/// The JSONL event reader and the fixture reader, on mutations of the repository's own fixture lines. The
/// property is the contract the CLI relies on: a line is read, or it is refused with the reader's own error
/// (file, line and field), never any other exception.
/// </summary>
public sealed class JsonReaderFuzzTests
{
    /// <summary>Every fixture line of the built-in rules, and the event inside each.</summary>
    private static readonly string[] FixtureLines = Directory.GetFiles(RepoPaths.Rules, "*.fixtures.jsonl")
        .SelectMany(File.ReadLines).Where(l => l.Length > 0).ToArray();

    /// <summary>Each fixture's event as a full recorded line (fixtures hold only what differs from the defaults).</summary>
    private static readonly string[] EventLines = FixtureLines.Select(l =>
    {
        var evt = new MovePagesEvent();
        Sentinel.Rules.Testing.FixtureEvents.Parse(System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("event"), "event", evt);
        return EventJson.Format(evt).ReplaceLineEndings(" ");
    }).ToArray();

    [Fact]
    public void Event_lines_parse_or_fail_with_a_format_error()
    {
        FuzzBudget.Run(Mutations.Of(EventLines), line =>
        {
            var evt = new MovePagesEvent();
            try
            {
                EventJson.Parse(line, evt);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException)
            {
                return;
            }
            // Accepted: it must format and read back to the same event.
            var copy = new MovePagesEvent();
            EventJson.Parse(EventJson.Format(evt), copy);
            Assert.Equal(EventJson.Format(evt), EventJson.Format(copy));
        }, print: line => line);
    }

    [Fact]
    public void Event_files_read_or_fail_naming_the_line()
    {
        var path = Path.Combine(Path.GetTempPath(), "sentinel-fuzz-" + Guid.NewGuid().ToString("N") + ".jsonl");
        try
        {
            FuzzBudget.Run(Gen.Select(Mutations.Of(EventLines), Mutations.Of(EventLines), (a, b) => a + "\n" + b), text =>
            {
                File.WriteAllText(path, text);
                try
                {
                    Assert.InRange(EventJson.ReadFile(path).Count(), 0, Lines(text));
                }
                catch (EventFileException ex)
                {
                    Assert.Equal(path, ex.Path);
                    Assert.InRange(ex.Line, 1, Lines(text)); // a mutation may itself insert a line break
                    Assert.False(string.IsNullOrEmpty(ex.Field));
                }
            }, print: text => text);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Fixture_files_read_or_fail_naming_the_line_and_field()
    {
        var path = Path.Combine(Path.GetTempPath(), "sentinel-fuzz-" + Guid.NewGuid().ToString("N") + ".fixtures.jsonl");
        try
        {
            FuzzBudget.Run(Gen.Select(Mutations.Of(FixtureLines), Mutations.Of(FixtureLines), (a, b) => a + "\n" + b), text =>
            {
                File.WriteAllText(path, text);
                try
                {
                    Assert.InRange(FixtureRunner.CountCases(path), 0, Lines(text));
                }
                catch (FixtureFormatException ex)
                {
                    Assert.Equal(path, ex.File);
                    Assert.InRange(ex.Line, 1, Lines(text)); // a mutation may itself insert a line break
                    Assert.False(string.IsNullOrEmpty(ex.Field));
                }
            }, print: text => text);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Lines as the readers count them (StreamReader: \n, \r\n and a lone \r each end a line).</summary>
    private static int Lines(string text)
    {
        using var reader = new StringReader(text);
        var n = 0;
        while (reader.ReadLine() is not null) n++;
        return Math.Max(n, 1);
    }
}
