using System.Text.Json;
using Sentinel.Contracts;
using Sentinel.Events;

namespace Sentinel.Rules.Testing;

/// <summary>One non-blank line of a recorded event file: the event, or why the line is not one.</summary>
public sealed record EventLine(int Line, MovePagesEvent? Event, FixtureFormatException? Error);

/// <summary>
/// Recorded event files (`sentinel record`, `run --events-out`): JSON Lines, one whole sentinel.v1.Event a
/// line. A line the event parser refuses is checked against the schema as fixture events are, so it is
/// reported as <c>file:line: JSON path: reason</c>; the reader goes on past it, so every bad line is reported.
/// </summary>
public static class EventFile
{
    public static IEnumerable<EventLine> Read(string path)
    {
        using var reader = new StreamReader(path);
        foreach (var (number, text) in JsonLines.NonBlank(reader))
            yield return ParseLine(path, number, text);
    }

    private static EventLine ParseLine(string path, int number, string text)
    {
        var evt = new MovePagesEvent();
        try
        {
            EventJson.Parse(text, evt);
            return new EventLine(number, evt, null);
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            // The parser decides what is accepted; only a refused line pays for the schema walk that says where
            // it is bad (on every line, that walk more than doubled a replay's parsing time).
        }
        try
        {
            using var document = JsonLines.ParseObject(path, number, text);
            try
            {
                FixtureEvents.ParseRecorded(document.RootElement, evt);
            }
            catch (FixtureFieldException ex)
            {
                throw FixtureFormatException.At(path, number, ex);
            }
            return new EventLine(number, evt, null);
        }
        catch (FixtureFormatException ex)
        {
            return new EventLine(number, null, ex);
        }
    }
}

/// <summary>What fixture files and event files share: JSON Lines of objects, blank lines skipped.</summary>
internal static class JsonLines
{
    public static IEnumerable<(int Number, string Text)> NonBlank(TextReader reader)
    {
        var number = 0;
        while (reader.ReadLine() is { } line)
        {
            number++;
            if (!string.IsNullOrWhiteSpace(line)) yield return (number, line);
        }
    }

    /// <summary>The line as a JSON object; anything else is a <see cref="FixtureFormatException"/> on field "json".</summary>
    public static JsonDocument ParseObject(string file, int line, string text)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            throw new FixtureFormatException(file, line, "json", ex.Message);
        }
        if (document.RootElement.ValueKind == JsonValueKind.Object) return document;
        document.Dispose();
        throw new FixtureFormatException(file, line, "json", "expected a JSON object");
    }
}
