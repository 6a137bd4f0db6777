using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Sentinel.Events;

namespace Sentinel.Formats;

/// <summary>Shared pieces of the SIEM formats: product identity, MITRE parsing, process views.</summary>
internal static partial class SiemFields
{
    public const string Vendor = "Sentinel";
    public const string Product = "Sentinel";
    public static readonly string ProductVersion =
        typeof(SiemFields).Assembly.GetName().Version?.ToString(3) ?? "1.0.0";

    [GeneratedRegex(@"^TA\d{4}$")]
    private static partial Regex TacticId();

    [GeneratedRegex(@"^T\d{4}(\.\d{3})?$")]
    private static partial Regex TechniqueId();

    public static bool IsTacticId(string value) => TacticId().IsMatch(value);
    public static bool IsTechniqueId(string value) => TechniqueId().IsMatch(value);

    /// <summary>The caller's parent, from the process tree when it knows it, else from the probe's ppid.</summary>
    public static (int Pid, ProcessInfo? Info) Parent(MovePagesEvent e)
    {
        var known = e.Enrichment.Ancestry.Count > 0 ? e.Enrichment.Ancestry[0] : null;
        return (known?.Pid ?? e.Ppid, known);
    }

    public static long UnixMilliseconds(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    public static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray());

    /// <summary>The event's move_pages arguments as flat properties every format can carry.</summary>
    public static JsonObject CallDetails(MovePagesEvent e)
    {
        var call = new JsonObject
        {
            ["target_pid"] = e.TargetPid,
            ["count"] = e.Count,
            ["flags"] = e.Flags,
            ["query_mode"] = e.IsQueryMode,
            ["compat"] = e.Compat,
            ["return_value"] = e.ReturnValue,
            ["toctou"] = e.HasToctouEvidence,
        };
        if (e.ErrnoName is { } errno) call["errno"] = errno;
        return call;
    }
}
