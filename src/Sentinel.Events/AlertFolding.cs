using System.Globalization;
using System.Text;

namespace Sentinel.Events;

/// <summary>
/// The fold key vocabulary of <see cref="RuleInfo.FoldKey"/>: which parts of a detection make two firings "the same".
/// Checked when the rule's metadata is built, so a bad key fails the rule's load, not the pipeline.
/// </summary>
public static class AlertFolding
{
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MinWindow = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxWindow = TimeSpan.FromHours(1);

    private const string FieldPrefix = "field:";

    private static readonly Dictionary<string, Func<Detection, string>> Parts = new(StringComparer.Ordinal)
    {
        ["pid"] = d => Number(d.Event.Pid),
        ["tid"] = d => Number(d.Event.Tid),
        ["ppid"] = d => Number(d.Event.Ppid),
        ["uid"] = d => Number(d.Event.Uid),
        ["comm"] = d => d.Event.Comm,
        ["exe"] = d => d.Event.Enrichment.Caller?.ExePath ?? "",
        ["target"] = d => Number(d.Event.EffectiveTargetPid),
        ["container"] = d => d.Event.Enrichment.Caller?.ContainerId ?? "",
    };

    public static string KnownParts => string.Join(", ", Parts.Keys) + ", field:NAME";

    public static string ValidateKey(string? key)
    {
        if (string.IsNullOrEmpty(key)) return "";
        foreach (var part in key.Split(','))
        {
            var name = part.Trim();
            if (Parts.ContainsKey(name) || name.StartsWith(FieldPrefix, StringComparison.Ordinal) && name.Length > FieldPrefix.Length) continue;
            throw new ArgumentException($"unknown fold key part '{name}' in FoldKey \"{key}\" (expected a comma-separated list of: {KnownParts})");
        }
        return key;
    }

    public static TimeSpan ValidateWindow(TimeSpan window) =>
        window >= MinWindow && window <= MaxWindow
            ? window
            : throw new ArgumentException($"FoldWindow {window} is out of range (expected {MinWindow} to {MaxWindow})");

    /// <summary>The detection's fold key: the values of the rule's key parts, joined unambiguously.</summary>
    public static string KeyOf(Detection d)
    {
        var sb = new StringBuilder();
        foreach (var part in d.Rule.FoldKey.Split(','))
        {
            var name = part.Trim();
            var value = Parts.TryGetValue(name, out var get)
                ? get(d)
                : d.Fields.TryGetValue(name[FieldPrefix.Length..], out var field) ? field : "";
            sb.Append(value.Length).Append(':').Append(value).Append('|');
        }
        return sb.ToString();
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
