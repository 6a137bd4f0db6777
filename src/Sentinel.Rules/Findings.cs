using System.Globalization;

namespace Sentinel.Rules;

/// <summary>One finding of a rule on one event: a message and extra fields, already rendered to strings.</summary>
public sealed record Finding(string Message, IReadOnlyDictionary<string, string> Fields);

/// <summary>
/// Collects the findings of one rule on one event. The engine reuses one instance, so a silent rule
/// allocates nothing.
/// </summary>
public sealed class Findings
{
    private static readonly IReadOnlyDictionary<string, string> NoFields = new Dictionary<string, string>();
    private readonly List<Finding> _items = new(4);

    /// <summary>The most findings one rule may add on one event; more is a rule bug and fails the evaluation.</summary>
    public const int MaxPerEvent = 16;

    public int Count => _items.Count;

    public void Add(string message) => Append(new Finding(message, NoFields));

    /// <summary>Adds a finding with extra fields. Values are rendered with the invariant culture.</summary>
    public void Add(string message, params ReadOnlySpan<(string Key, object? Value)> fields)
    {
        var rendered = new Dictionary<string, string>(fields.Length, StringComparer.Ordinal);
        foreach (var (key, value) in fields)
            rendered[key] = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
        Append(new Finding(message, rendered));
    }

    private void Append(Finding finding)
    {
        if (_items.Count >= MaxPerEvent)
            throw new InvalidOperationException($"a rule may add at most {MaxPerEvent} findings per event");
        _items.Add(finding);
    }

    internal IReadOnlyList<Finding> Items => _items;

    internal void Clear() => _items.Clear();
}
