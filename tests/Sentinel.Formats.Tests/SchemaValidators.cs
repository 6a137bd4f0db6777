using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Sentinel.Formats.Tests;

/// <summary>Validates an OCSF finding against the bundled class 2004 schema (Schemas/ocsf-*.json; rules in its "about").</summary>
internal static class OcsfSchema
{
    private static readonly JsonObject Schema = Load("ocsf-1.3.0-detection-finding.json");

    public static JsonObject Load(string name) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Schemas", name)))!.AsObject();

    public static List<string> Validate(JsonNode finding)
    {
        var errors = new List<string>();
        var cls = Schema["class"]!;
        ValidateObject(finding, cls["attributes"]!.AsObject(), "", errors);
        return errors;
    }

    private static void ValidateObject(JsonNode? node, JsonObject definition, string path, List<string> errors)
    {
        if (node is not JsonObject obj) { errors.Add($"{Where(path)}: expected an object"); return; }
        foreach (var (name, spec) in definition)
        {
            if (name.StartsWith('$')) continue;
            if (spec!["requirement"]!.GetValue<string>() == "required" && obj[name] is null)
                errors.Add($"{Where(path)}: required attribute '{name}' is missing");
        }
        if (definition["$at_least_one"] is JsonArray oneOf && !oneOf.Any(a => obj.ContainsKey(a!.GetValue<string>())))
            errors.Add($"{Where(path)}: needs at least one of {string.Join(", ", oneOf)}");
        foreach (var (name, value) in obj)
        {
            var at = path.Length == 0 ? name : $"{path}.{name}";
            if (definition[name] is not JsonObject spec || name.StartsWith('$'))
            {
                errors.Add($"{at}: not an attribute of this OCSF class or object");
                continue;
            }
            if (spec["is_array"]?.GetValue<bool>() == true)
            {
                if (value is not JsonArray items) { errors.Add($"{at}: expected an array"); continue; }
                for (var i = 0; i < items.Count; i++) ValidateValue(items[i], spec, $"{at}[{i}]", errors);
            }
            else
            {
                ValidateValue(value, spec, at, errors);
            }
            // An _id enum's sibling carries its caption.
            if (spec["sibling"]?.GetValue<string>() is { } sibling && obj[sibling] is JsonValue caption && value is JsonValue id
                && spec["enum"] is JsonObject values && id.ToString() != "99"
                && values[id.ToString()]?.GetValue<string>() is { } expected && caption.ToString() != expected)
                errors.Add($"{Where(path)}.{sibling}: '{caption}' is not the caption of {name} {id} ('{expected}')");
        }
    }

    private static void ValidateValue(JsonNode? value, JsonNode spec, string at, List<string> errors)
    {
        var type = spec["type"]!.GetValue<string>();
        if (type == "object_t")
        {
            var objectType = spec["object_type"]!.GetValue<string>();
            var definition = Schema["objects"]![objectType]?.AsObject()
                             ?? throw new InvalidOperationException($"schema has no object '{objectType}'");
            ValidateObject(value, definition, at, errors);
            return;
        }
        var json = Schema["types"]![type]?.GetValue<string>() ?? throw new InvalidOperationException($"schema has no type '{type}'");
        var kind = value?.GetValueKind();
        var ok = json switch
        {
            "any" => true,
            "string" => kind == JsonValueKind.String,
            "integer" => kind == JsonValueKind.Number && long.TryParse(value!.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _),
            "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
            _ => false,
        };
        if (!ok) { errors.Add($"{at}: expected {type}, got {kind}"); return; }
        if (type == "integer_t" && !int.TryParse(value!.ToJsonString(), CultureInfo.InvariantCulture, out _))
            errors.Add($"{at}: {value} does not fit integer_t (32-bit)");
        if (spec["enum"] is JsonObject values && !values.ContainsKey(value!.ToJsonString().Trim('"')))
            errors.Add($"{at}: {value} is not one of the enum values {string.Join(", ", values.Select(v => v.Key))}");
    }

    private static string Where(string path) => path.Length == 0 ? "(finding)" : path;
}

/// <summary>Validates an ECS document against the bundled field reference (Schemas/ecs-*.json; rules in its "about").</summary>
internal static class EcsReference
{
    private static readonly JsonObject Reference = OcsfSchema.Load("ecs-8.11-fields.json");

    public static List<string> Validate(JsonObject doc)
    {
        var errors = new List<string>();
        var fields = Reference["fields"]!.AsObject();
        var custom = Reference["custom_namespaces"]!.AsArray().Select(n => n!.GetValue<string>()).ToHashSet();
        foreach (var (name, value) in Leaves(doc, ""))
        {
            if (custom.Contains(name.Split('.')[0])) continue;
            if (fields[name] is not JsonObject spec) { errors.Add($"{name}: not an ECS field"); continue; }
            var array = spec["array"]?.GetValue<bool>() == true;
            if (array && value is not JsonArray) errors.Add($"{name}: ECS expects an array");
            var items = value is JsonArray list ? list.ToList() : [value];
            foreach (var item in items)
            {
                if (!TypeMatches(spec["type"]!.GetValue<string>(), item))
                    errors.Add($"{name}: {item?.ToJsonString()} is not an ECS {spec["type"]}");
                else if (spec["allowed"] is JsonArray allowed && !allowed.Any(a => a!.GetValue<string>() == item!.GetValue<string>()))
                    errors.Add($"{name}: '{item}' is not an allowed value");
            }
        }
        return errors;
    }

    private static bool TypeMatches(string type, JsonNode? value) => type switch
    {
        "keyword" or "wildcard" or "match_only_text" or "text" => value?.GetValueKind() == JsonValueKind.String,
        "long" => value?.GetValueKind() == JsonValueKind.Number && long.TryParse(value.ToJsonString(), out _),
        "float" => value?.GetValueKind() == JsonValueKind.Number,
        "boolean" => value?.GetValueKind() is JsonValueKind.True or JsonValueKind.False,
        "date" => value?.GetValueKind() == JsonValueKind.String
                  && DateTimeOffset.TryParse(value.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _),
        _ => false,
    };

    /// <summary>Dotted leaf names; arrays of scalars are one leaf.</summary>
    private static IEnumerable<(string Name, JsonNode? Value)> Leaves(JsonObject obj, string prefix)
    {
        foreach (var (key, value) in obj)
        {
            var name = prefix + key;
            if (value is JsonObject child)
                foreach (var leaf in Leaves(child, name + ".")) yield return leaf;
            else yield return (name, value);
        }
    }
}

/// <summary>
/// A strict reading of the CEF spec (ArcSight "Implementing ArcSight CEF"): seven header fields split on unescaped
/// pipes, where only \| and \\ are escapes; extension keys are alphanumeric; in values only \\, \=, \n and \r are
/// escapes, = is always escaped, and no raw line break appears anywhere.
/// </summary>
internal static class CefSpec
{
    public static List<string> Validate(string line)
    {
        var errors = new List<string>();
        if (line.Contains('\n') || line.Contains('\r')) errors.Add("raw line break in the record");
        var pipes = 0;
        var i = 0;
        for (; i < line.Length && pipes < 7; i++)
        {
            if (line[i] == '\\')
            {
                if (i + 1 >= line.Length || line[i + 1] is not ('\\' or '|')) errors.Add($"header: bad escape at {i}");
                i++;
                continue;
            }
            if (line[i] == '|') pipes++;
        }
        if (pipes < 7) { errors.Add($"header: {pipes} unescaped pipes, expected 7"); return errors; }
        if (!line.StartsWith("CEF:0|", StringComparison.Ordinal)) errors.Add("header: not CEF:0");
        var ext = line[i..];
        var pos = 0;
        while (pos < ext.Length)
        {
            var eq = ext.IndexOf('=', pos);
            if (eq < 0) { errors.Add($"extension: trailing text '{ext[pos..]}'"); break; }
            var key = ext[pos..eq];
            if (key.Length == 0 || !key.All(char.IsAsciiLetterOrDigit)) errors.Add($"extension: bad key '{key}'");
            var j = eq + 1;
            for (; j < ext.Length; j++)
            {
                if (ext[j] == '\\')
                {
                    if (j + 1 >= ext.Length || ext[j + 1] is not ('\\' or '=' or 'n' or 'r')) errors.Add($"extension {key}: bad escape");
                    j++;
                    continue;
                }
                if (ext[j] == '=') { errors.Add($"extension {key}: unescaped '='"); break; }
                // A value ends where " nextkey=" starts.
                if (ext[j] == ' ' && NextIsKey(ext, j + 1)) break;
            }
            pos = j + 1;
        }
        return errors;
    }

    private static bool NextIsKey(string ext, int start)
    {
        var k = start;
        while (k < ext.Length && char.IsAsciiLetterOrDigit(ext[k])) k++;
        return k > start && k < ext.Length && ext[k] == '=';
    }
}
