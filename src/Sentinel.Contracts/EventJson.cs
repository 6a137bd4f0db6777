using Google.Protobuf;
using Sentinel.Events;

namespace Sentinel.Contracts;

/// <summary>Event files: JSON Lines, one sentinel.v1.Event a line in the protobuf JSON mapping.</summary>
public static class EventJson
{
    // Defaults are written out: "uid": 0 (root) or "compat": false must be visible to a reader, not implied.
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true));
    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    public static string Format(MovePagesEvent evt) => Formatter.Format(EventConverter.ToProto(evt));

    public static string Format(IMessage message) => Formatter.Format(message);

    /// <summary>Parses one line into <paramref name="target"/>; errors name the field.</summary>
    public static void Parse(string line, MovePagesEvent target)
    {
        V1.Event proto;
        try
        {
            proto = Parser.Parse<V1.Event>(line);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new EventFormatException("json", ex.Message);
        }
        catch (InvalidJsonException ex)
        {
            throw new EventFormatException("json", ex.Message);
        }
        EventConverter.FromProto(proto, target);
    }

    /// <summary>Reads an event file lazily. Blank lines are skipped; a bad line throws with its number.</summary>
    public static IEnumerable<MovePagesEvent> ReadFile(string path)
    {
        using var reader = new StreamReader(path);
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var evt = new MovePagesEvent();
            try
            {
                Parse(line, evt);
            }
            catch (Exception ex) when (ex is FormatException or OverflowException)
            {
                var field = ex is EventFormatException efe ? efe.Field : "json";
                throw new EventFileException(path, lineNumber, field, ex.Message);
            }
            yield return evt;
        }
    }
}

public sealed class EventFileException(string path, int line, string field, string message)
    : Exception($"{path}:{line}: {message}")
{
    public string Path { get; } = path;
    public int Line { get; } = line;
    public string Field { get; } = field;
}
