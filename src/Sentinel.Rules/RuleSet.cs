using Sentinel.Rules.Compilation;

namespace Sentinel.Rules;

/// <summary>An immutable generation of loaded rules. The engine evaluates each event with exactly one set.</summary>
internal sealed class RuleSet(long generation, RuleSlot[] slots, IReadOnlyList<RuleDiagnostic> diagnostics)
{
    public static RuleSet Empty { get; } = new(0, [], []);

    public long Generation { get; } = generation;
    public RuleSlot[] Slots { get; } = slots;
    /// <summary>Errors of the load that produced this set: files that did not compile or load.</summary>
    public IReadOnlyList<RuleDiagnostic> Diagnostics { get; } = diagnostics;

    public RuleSlot? Find(string file) => Array.Find(Slots, s => s.File == file);

    public bool Contains(RuleSlot slot) => Array.IndexOf(Slots, slot) >= 0;
}

/// <summary>What one load or reload did.</summary>
public sealed record RuleReloadResult(
    long Generation,
    IReadOnlyList<string> Added,
    IReadOnlyList<string> Updated,
    IReadOnlyList<string> Removed,
    IReadOnlyList<RuleDiagnostic> Diagnostics)
{
    public bool Changed => Added.Count + Updated.Count + Removed.Count > 0;

    /// <summary>An all-or-nothing reload that changed nothing because a file failed (see Diagnostics).</summary>
    public bool Rejected { get; init; }
}
