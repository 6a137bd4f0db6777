using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sentinel.Simulate;

/// <summary>
/// One attack (or benign) pattern made with real move_pages calls. Self-contained: whatever it starts (victims,
/// helpers, mappings, temp files) it stops and removes, even when it fails.
/// </summary>
public abstract class Scenario
{
    public abstract string Name { get; }
    /// <summary>The built-in rule this scenario exists to fire; null for the benign scenario.</summary>
    public abstract string? RuleId { get; }
    /// <summary>Other rules that fire by construction (e.g. a query of another user's process is also cross-process).</summary>
    public virtual IReadOnlyList<string> AlsoFires => [];
    public abstract string Description { get; }
    /// <summary>Needs root (setpriv, unshare, another uid).</summary>
    public virtual bool NeedsRoot => false;

    /// <summary>Every rule the agent should report for this scenario, and no other.</summary>
    public IReadOnlyList<string> ExpectedRules => RuleId is null ? [] : [RuleId, .. AlsoFires];

    public abstract ScenarioResult Run(SimulationContext context);
}

/// <summary>What a scenario did: who called, on whom, and what the kernel answered.</summary>
public sealed class ScenarioResult
{
    public required string Scenario { get; init; }
    public required IReadOnlyList<string> ExpectedRules { get; init; }
    /// <summary>The host pid of the process that made the calls.</summary>
    public required int CallerPid { get; init; }
    /// <summary>The host pid of the target (the caller itself for self calls); 0 when no process has it.</summary>
    public int TargetPid { get; init; }
    /// <summary>The pid argument passed to move_pages.</summary>
    public int PidArgument { get; init; }
    public uint CallerUid { get; init; }
    public uint TargetUid { get; init; }
    public List<string> Results { get; init; } = [];
    public string Note { get; init; } = "";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ScenarioResult? FromJson(string line) => JsonSerializer.Deserialize<ScenarioResult>(line, Json);
}
