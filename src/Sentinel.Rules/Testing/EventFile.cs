using System.Text;
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
            yield return text is null
                ? new EventLine(number, null, JsonLines.TooLong(path, number))
                : ParseLine(path, number, text);
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
    /// <summary>Far above any event line (a few KB), and the most a file from the rules directory can hold.</summary>
    public const int MaxLineChars = RuleFileText.MaxBytes;

    /// <summary>The error for a line over <see cref="MaxLineChars"/>, which <see cref="NonBlank"/> gives as null.</summary>
    public static FixtureFormatException TooLong(string file, int line) =>
        new(file, line, "json", $"a line of over {MaxLineChars} characters: not an event");

    /// <summary>
    /// The non-blank lines, numbered from 1 (a trailing \r dropped). A line over <paramref name="maxChars"/> comes back
    /// as null, its rest skipped unread into memory: a forged line of gigabytes must cost a bad line, not the process.
    /// </summary>
    public static IEnumerable<(int Number, string? Text)> NonBlank(TextReader reader, int maxChars = MaxLineChars)
    {
        var buffer = new char[64 * 1024];
        var pending = new StringBuilder();
        var (start, end, number, tooLong) = (0, 0, 0, false);
        while (true)
        {
            if (start == end)
            {
                (start, end) = (0, reader.Read(buffer, 0, buffer.Length));
                if (end == 0)
                {
                    if (pending.Length > 0 || tooLong)
                        if (Line(pending.ToString(), tooLong) is var (text, keep) && keep) yield return (number + 1, text);
                    yield break;
                }
            }
            var unread = buffer.AsSpan(start, end - start);
            var newline = unread.IndexOf('\n');
            var part = newline < 0 ? unread : unread[..newline];
            start += newline < 0 ? part.Length : newline + 1;
            if (!tooLong && pending.Length + part.Length > maxChars)
            {
                tooLong = true;
                pending.Clear();
            }
            if (newline < 0)
            {
                if (!tooLong) pending.Append(part);
                continue;
            }
            number++;
            // A line inside the buffer, the common case, becomes a string without the builder's copy.
            var whole = tooLong ? null : pending.Length == 0 ? part.ToString() : pending.Append(part).ToString();
            if (Line(whole, tooLong) is var (line, emit) && emit) yield return (number, line);
            tooLong = false;
            pending.Clear();
        }
    }

    private static (string? Text, bool Emit) Line(string? text, bool tooLong) =>
        tooLong ? (null, true)
        : text!.EndsWith('\r') ? (text[..^1], !string.IsNullOrWhiteSpace(text))
        : (text, !string.IsNullOrWhiteSpace(text));

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
