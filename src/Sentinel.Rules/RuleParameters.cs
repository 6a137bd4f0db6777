using System.Globalization;

namespace Sentinel.Rules;

/// <summary>
/// A rule's tunables, e.g. the threshold of a burst rule. Set by the operator as "SNT-0005.threshold=10"
/// (<see cref="RuleEngineOptions.Parameters"/>); the rule supplies the defaults.
/// </summary>
public sealed class RuleParameters
{
    private readonly IReadOnlyDictionary<string, string> _values;

    public RuleParameters(IReadOnlyDictionary<string, string> values) => _values = values;

    public static RuleParameters Empty { get; } = new(new Dictionary<string, string>());

    public string GetString(string name, string defaultValue) =>
        _values.TryGetValue(name, out var value) ? value : defaultValue;

    public int GetInt(string name, int defaultValue) =>
        _values.TryGetValue(name, out var value)
            ? int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed)
                ? parsed
                : throw new FormatException($"parameter '{name}': expected an integer, got '{value}'")
            : defaultValue;

    /// <summary>A duration such as "10s", "500ms" or "2m".</summary>
    public TimeSpan GetDuration(string name, TimeSpan defaultValue) =>
        _values.TryGetValue(name, out var value) ? ParseDuration(name, value) : defaultValue;

    private static TimeSpan ParseDuration(string name, string value)
    {
        var (digits, unit) = value.EndsWith("ms", StringComparison.Ordinal) ? (value[..^2], 1.0)
            : value.EndsWith('s') ? (value[..^1], 1000.0)
            : value.EndsWith('m') ? (value[..^1], 60_000.0)
            : (value, 1000.0);
        return double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0
            ? TimeSpan.FromMilliseconds(n * unit)
            : throw new FormatException($"parameter '{name}': expected a duration like 10s or 500ms, got '{value}'");
    }

    /// <summary>Selects the "RULEID.name" entries of <paramref name="all"/> for one rule.</summary>
    public static RuleParameters For(string ruleId, IReadOnlyDictionary<string, string> all)
    {
        var prefix = ruleId + ".";
        var mine = all.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);
        return mine.Count == 0 ? Empty : new RuleParameters(mine);
    }
}
