using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Rules.Compilation;
using static Sentinel.Events.EventCatalog;

namespace Sentinel.Rules.Testing;

/// <summary>A fixture value that does not fit: <see cref="Path"/> is its full JSON path, e.g. <c>event.context.comand</c>.</summary>
public sealed class FixtureFieldException(string path, string message) : Exception(message)
{
    public string Path { get; } = path;
}

/// <summary>
/// Partial fixture events. A fixture's <c>event</c> states only what its case is about; every field it omits
/// takes its value from <see cref="DefaultsJson"/>: a benign call (an unprivileged process in the host's
/// namespaces querying one page of its own memory, successfully) that no built-in rule fires on. Objects merge
/// field by field, <c>args</c> by argument name, anything else is replaced whole. <c>returnValue</c> and the
/// <c>return</c> argument are one value: give either.
/// </summary>
public static class FixtureEvents
{
    /// <summary>The defaults, as docs/RULES.md shows them (a test keeps the two equal).</summary>
    public const string DefaultsJson =
        """{"name":"move_pages","time":"2026-01-01T00:00:00Z","context":{"pid":1000,"tid":1000,"ppid":1,"uid":1000,"euid":1000,"gid":1000,"capEffective":"0","comm":"app","mountNamespace":"4026531840","pidNamespace":"4026531836","cgroupId":"1","cpu":0},"strategy":"ATTACH_STRATEGY_TRACEPOINT","compat":false,"args":[{"name":"pid","intValue":"0"},{"name":"count","uintValue":"1"},{"name":"pages","pointer":"140737488289792"},{"name":"nodes","pointer":"0"},{"name":"status","pointer":"140737488293888"},{"name":"flags","intValue":"0"}],"returnValue":"0"}""";

    private const string Return = "return";

    // The defaults in the canonical mapping (every field written out), without the return value: a partial
    // event's return comes from whichever of returnValue and the return argument it gives.
    private static readonly JsonObject Canonical = CanonicalDefaults();

    private static readonly HashSet<string> ValueKeys = ["intValue", "uintValue", "pointer"];

    /// <summary>Fills <paramref name="target"/> from a partial event; errors name the JSON path under <paramref name="path"/>.</summary>
    public static void Parse(JsonElement partial, string path, MovePagesEvent target)
    {
        Validate(partial, V1.Event.Descriptor, path);
        JsonObject merged;
        try
        {
            merged = Merge(partial);
        }
        catch (ArgumentException)
        {
            throw new FixtureFieldException(path, "a field is given twice");
        }
        ParseChecked(merged.ToJsonString(), path, target);
    }

    /// <summary>
    /// Fills <paramref name="target"/> from a whole recorded event (an event file's line: no defaults, an omitted
    /// field is its zero value as in the protobuf mapping); errors name the JSON path, e.g. <c>context.comand</c>.
    /// </summary>
    public static void ParseRecorded(JsonElement recorded, MovePagesEvent target)
    {
        Validate(recorded, V1.Event.Descriptor, "");
        ParseChecked(recorded.GetRawText(), "", target);
    }

    private static void ParseChecked(string json, string path, MovePagesEvent target)
    {
        try
        {
            EventJson.Parse(json, target);
        }
        catch (EventFormatException ex)
        {
            throw new FixtureFieldException(Join(path, ex.Field), ex.Message.StartsWith(ex.Field + ": ", StringComparison.Ordinal) ? ex.Message[(ex.Field.Length + 2)..] : ex.Message);
        }
        catch (Exception ex) when (ex is FormatException or OverflowException)
        {
            throw new FixtureFieldException(path.Length == 0 ? "json" : path, ex.Message);
        }
    }

    // An event file's line is the event itself: its fields' paths start at the top, with no prefix.
    private static string Join(string path, string field) => path.Length == 0 ? field : $"{path}.{field}";

    /// <summary>
    /// The smallest partial event that parses back to <paramref name="evt"/>: only what differs from the
    /// defaults. Falls back to the whole event should the two ever disagree.
    /// </summary>
    public static JsonObject Minimize(MovePagesEvent evt)
    {
        var full = JsonNode.Parse(EventJson.Format(evt))!.AsObject();
        var partial = new JsonObject();
        foreach (var (key, value) in full)
        {
            if (key is "toctou" or "errno") continue; // derived from the copies and the return value
            if (key == "returnValue")
            {
                if (value!.GetValue<string>() != "0") partial[key] = value.DeepClone();
                continue;
            }
            if (key == "args")
            {
                var args = new JsonArray();
                foreach (var arg in value!.AsArray().Select(a => a!.AsObject()))
                {
                    var name = arg["name"]!.GetValue<string>();
                    if (name == Return) continue; // returnValue carries it
                    var valueKey = arg.Select(p => p.Key).First(ValueKeys.Contains);
                    var slim = new JsonObject { ["name"] = name, [valueKey] = arg[valueKey]!.DeepClone() };
                    if (!JsonNode.DeepEquals(slim, DefaultArg(name))) args.Add(slim);
                }
                if (args.Count > 0) partial["args"] = args;
            }
            else if (Diff(value, Canonical[key]) is { } diff)
                partial[key] = diff;
        }
        var check = new MovePagesEvent();
        using var document = JsonDocument.Parse(partial.ToJsonString());
        Parse(document.RootElement, "event", check);
        return EventJson.Format(check) == EventJson.Format(evt) ? partial : full;
    }

    private static JsonNode? Diff(JsonNode? value, JsonNode? defaults)
    {
        if (JsonNode.DeepEquals(value, defaults)) return null;
        if (value is not JsonObject obj || defaults is not JsonObject baseline) return value?.DeepClone();
        var diff = new JsonObject();
        foreach (var (key, child) in obj)
            if (Diff(child, baseline[key]) is { } d) diff[key] = d;
        return diff;
    }

    private static JsonObject? DefaultArg(string name) =>
        Canonical["args"]!.AsArray().Select(a => a!.AsObject()).FirstOrDefault(a => a["name"]!.GetValue<string>() == name) is { } arg
            ? new JsonObject { ["name"] = name, [arg.Select(p => p.Key).First(ValueKeys.Contains)] = arg.First(p => ValueKeys.Contains(p.Key)).Value!.DeepClone() }
            : null;

    private static JsonObject CanonicalDefaults()
    {
        var evt = new MovePagesEvent();
        EventJson.Parse(DefaultsJson, evt);
        var canonical = JsonNode.Parse(EventJson.Format(evt))!.AsObject();
        canonical.Remove("returnValue");
        var args = canonical["args"]!.AsArray();
        args.Remove(args.First(a => a!["name"]!.GetValue<string>() == Return));
        return canonical;
    }

    private static JsonObject Merge(JsonElement partial)
    {
        var merged = Canonical.DeepClone().AsObject();
        var given = JsonNode.Parse(partial.GetRawText())!.AsObject();
        foreach (var (key, value) in given)
        {
            if (key == "args") MergeArgs(merged["args"]!.AsArray(), value);
            else if (key == "copies" && value is JsonObject copies) merged[key] = InferCopied(copies);
            else MergeInto(merged, key, value);
        }
        var returnArg = merged["args"]!.AsArray().FirstOrDefault(a => a!["name"]!.GetValue<string>() == Return);
        var returnValue = merged["returnValue"];
        if (returnArg is not null && returnValue is null) merged["returnValue"] = ValueOf(returnArg)?.DeepClone();
        else if (returnArg is null)
            merged["args"]!.AsArray().Add(new JsonObject { ["name"] = Return, ["intValue"] = returnValue?.DeepClone() ?? "0" });
        return merged;
    }

    private static JsonNode? ValueOf(JsonNode arg) => arg.AsObject().FirstOrDefault(p => ValueKeys.Contains(p.Key)).Value;

    private static void MergeInto(JsonObject target, string key, JsonNode? value)
    {
        if (value is null) target.Remove(key); // null means the field's zero value, as in the protobuf mapping
        else if (value is JsonObject obj && target[key] is JsonObject existing)
            foreach (var (k, v) in obj) MergeInto(existing, k, v?.DeepClone());
        else target[key] = value.DeepClone();
    }

    private static void MergeArgs(JsonArray defaults, JsonNode? given)
    {
        if (given is null) return;
        foreach (var arg in given.AsArray())
        {
            var name = arg!["name"]!.GetValue<string>();
            var index = defaults.Select(a => a!["name"]!.GetValue<string>()).ToList().IndexOf(name);
            if (index >= 0) defaults[index] = arg.DeepClone();
            else defaults.Add(arg.DeepClone());
        }
    }

    // A case giving the copied arrays need not count them.
    private static JsonObject InferCopied(JsonObject copies)
    {
        var clone = copies.DeepClone().AsObject();
        if (!clone.ContainsKey("copied"))
            clone["copied"] = clone.Select(p => p.Value as JsonArray).Where(a => a is not null).Select(a => a!.Count).DefaultIfEmpty(0).Max();
        return clone;
    }

    // Checks every field against the sentinel.v1.Event schema before merging, so an error names where it is.
    private static void Validate(JsonElement element, MessageDescriptor message, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new FixtureFieldException(path, $"expected an object ({message.Name}), got {Kind(element)}");
        foreach (var property in element.EnumerateObject())
        {
            var fields = message.Fields.InDeclarationOrder();
            var field = fields.FirstOrDefault(f => f.JsonName == property.Name || f.Name == property.Name)
                ?? throw new FixtureFieldException(Join(path, property.Name),
                    $"unknown field \"{property.Name}\" in {message.Name}{Suggest(property.Name, fields.Select(f => f.JsonName))}");
            ValidateField(property.Value, field, Join(path, property.Name));
        }
        if (message == V1.Event.Descriptor && element.TryGetProperty("args", out var args) && args.ValueKind == JsonValueKind.Array)
            ValidateArgs(args, Join(path, "args"));
    }

    private static string Suggest(string name, IEnumerable<string> candidates)
    {
        var list = candidates.ToList();
        var suggestion = CompilerMessages.Suggestion(name, list);
        return suggestion.Length > 0 ? suggestion.Replace('\'', '"') : $" (expected one of: {string.Join(", ", list)})";
    }

    private static void ValidateField(JsonElement value, FieldDescriptor field, string path)
    {
        if (value.ValueKind == JsonValueKind.Null) return;
        if (field.IsMap || !field.IsRepeated)
        {
            ValidateSingle(value, field, path);
            return;
        }
        if (value.ValueKind != JsonValueKind.Array) throw new FixtureFieldException(path, $"expected an array, got {Kind(value)}");
        var i = 0;
        foreach (var item in value.EnumerateArray()) ValidateSingle(item, field, $"{path}[{i++}]");
    }

    private static void ValidateSingle(JsonElement value, FieldDescriptor field, string path)
    {
        switch (field.FieldType)
        {
            case FieldType.Message when field.MessageType.FullName == Timestamp.Descriptor.FullName:
                try
                {
                    if (value.ValueKind != JsonValueKind.String) throw new FormatException();
                    JsonParser.Default.Parse<Timestamp>(value.GetRawText());
                }
                catch (Exception ex) when (ex is FormatException or InvalidProtocolBufferException or InvalidJsonException)
                {
                    throw new FixtureFieldException(path, $"expected an RFC 3339 time such as \"2026-01-01T00:00:00Z\", got {value.GetRawText()}");
                }
                break;
            case FieldType.Message:
                Validate(value, field.MessageType, path);
                break;
            case FieldType.Enum:
                var names = field.EnumType.Values.Select(v => v.Name).ToList();
                if (value.ValueKind == JsonValueKind.Number ? !value.TryGetInt32(out _) : value.ValueKind != JsonValueKind.String || !names.Contains(value.GetString()!))
                    throw new FixtureFieldException(path, $"expected one of {string.Join(", ", names)}, got {value.GetRawText()}"
                        + (value.ValueKind == JsonValueKind.String ? EnumSuggestion(value.GetString()!, names) : ""));
                break;
            case FieldType.Bool:
                if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    throw new FixtureFieldException(path, $"expected true or false, got {value.GetRawText()}");
                break;
            case FieldType.String:
                if (value.ValueKind != JsonValueKind.String) throw new FixtureFieldException(path, $"expected a string, got {value.GetRawText()}");
                break;
            case FieldType.Double or FieldType.Float:
                if (value.ValueKind != JsonValueKind.Number && !double.TryParse(value.ToString(), CultureInfo.InvariantCulture, out _))
                    throw new FixtureFieldException(path, $"expected a number, got {value.GetRawText()}");
                break;
            case FieldType.Bytes:
                if (value.ValueKind != JsonValueKind.String || !value.TryGetBytesFromBase64(out _))
                    throw new FixtureFieldException(path, $"expected base64 bytes, got {value.GetRawText()}");
                break;
            default:
                var (min, max, type) = Range(field.FieldType);
                if (!IsInteger(value, out var number) || number < min || number > max)
                    throw new FixtureFieldException(path, $"expected an integer ({type}, a number or a decimal string), got {value.GetRawText()}");
                break;
        }
    }

    // Enum names carry their type as a prefix (ATTACH_STRATEGY_TRACEPOINT); "tracepoint" means that one.
    private static string EnumSuggestion(string given, List<string> names) =>
        names.FirstOrDefault(n => n.EndsWith("_" + given, StringComparison.OrdinalIgnoreCase)) is { } suffixed
            ? $"; did you mean \"{suffixed}\"?"
            : CompilerMessages.Suggestion(given, names).Replace('\'', '"');

    private static (decimal Min, decimal Max, string Type) Range(FieldType type) => type switch
    {
        FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32 => (int.MinValue, int.MaxValue, "int32"),
        FieldType.UInt32 or FieldType.Fixed32 => (0, uint.MaxValue, "uint32"),
        FieldType.UInt64 or FieldType.Fixed64 => (0, ulong.MaxValue, "uint64"),
        _ => (long.MinValue, long.MaxValue, "int64"),
    };

    private static bool IsInteger(JsonElement value, out decimal number)
    {
        number = 0;
        var text = value.ValueKind switch
        {
            JsonValueKind.Number => value.GetRawText(),
            JsonValueKind.String => value.GetString()!,
            _ => null,
        };
        return text is not null
               && decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowExponent | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out number)
               && number == decimal.Truncate(number);
    }

    // Arguments are matched by name: each must name a move_pages argument once and carry the right kind of value.
    private static void ValidateArgs(JsonElement args, string path)
    {
        var seen = new HashSet<string>();
        var names = MovePages.Arguments.Select(a => a.Name).ToList();
        var i = 0;
        foreach (var arg in args.EnumerateArray())
        {
            var at = $"{path}[{i++}]";
            if (!arg.TryGetProperty("name", out var nameElement) || nameElement.ValueKind != JsonValueKind.String)
                throw new FixtureFieldException(at + ".name", $"expected the argument's name, one of: {string.Join(", ", names)}");
            var name = nameElement.GetString()!;
            var index = names.IndexOf(name);
            if (index < 0)
                throw new FixtureFieldException(at + ".name", $"unknown argument \"{name}\"{Suggest(name, names)}");
            if (!seen.Add(name)) throw new FixtureFieldException(at + ".name", $"argument \"{name}\" is given twice");
            var expected = index switch
            {
                MovePagesArgs.Count => "uintValue",
                MovePagesArgs.Pages or MovePagesArgs.Nodes or MovePagesArgs.Status => "pointer",
                _ => "intValue",
            };
            var given = arg.EnumerateObject().Where(p => ValueKeys.Contains(p.Name)).Select(p => p.Name).ToList();
            if (given.Count != 1 || given[0] != expected)
                throw new FixtureFieldException(at, $"argument \"{name}\" takes exactly one \"{expected}\"" +
                    (given.Count == 0 ? "" : $", got {string.Join(", ", given.Select(g => $"\"{g}\""))}"));
        }
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "an object",
    };
}
