namespace Sentinel.Events;

public enum Severity
{
    Unspecified = 0,
    Info = 1,
    Low = 2,
    Medium = 3,
    High = 4,
    Critical = 5,
}

/// <summary>A rule's metadata as it is published (ListRules, detections, SIEM formats).</summary>
public sealed record RuleInfo
{
    public required string Id { get; init; }
    public required string Version { get; init; }
    public required string Name { get; init; }
    public string Description { get; init; } = "";
    public Severity Severity { get; init; } = Severity.Medium;
    public IReadOnlyList<string> MitreTactics { get; init; } = [];
    public IReadOnlyList<string> MitreTechniques { get; init; } = [];
    public IReadOnlyList<string> Tags { get; init; } = [];
    public IReadOnlyList<string> Events { get; init; } = [];
    /// <summary>The .csx file the rule came from.</summary>
    public string File { get; init; } = "";
    /// <summary>
    /// Alert folding: repeats of this rule with the same key within <see cref="FoldWindow"/> become one detection
    /// with a count. Comma-separated parts: pid, tid, ppid, uid, comm, exe, target, container, field:NAME
    /// (a finding field). "" (the default) never folds.
    /// </summary>
    public string FoldKey { get; init => field = AlertFolding.ValidateKey(value); } = "";
    /// <summary>How long a fold stays open after its first detection: 1 s to 1 h; 1 minute when unset.</summary>
    public TimeSpan FoldWindow { get; init => field = AlertFolding.ValidateWindow(value); } = AlertFolding.DefaultWindow;
    /// <summary>The in-kernel response the rule asks for, if any (acted on only under `run --enforce`).</summary>
    public RuleResponse? Response { get; init; }
}

/// <summary>A rule firing on one event. <see cref="Sequence"/> is 0 until the journal assigns it.</summary>
public sealed record Detection
{
    public ulong Sequence { get; init; }
    public required RuleInfo Rule { get; init; }
    public required DateTimeOffset Time { get; init; }
    public string Host { get; init; } = Environment.MachineName;
    public required string Message { get; init; }
    public IReadOnlyDictionary<string, string> Fields { get; init; } = new Dictionary<string, string>();
    /// <summary>A detached snapshot of the triggering event.</summary>
    public required MovePagesEvent Event { get; init; }
    /// <summary>How many firings this detection stands for: 1, or the repeats a fold summary counts.</summary>
    public uint FoldCount { get; init; } = 1;
    /// <summary>Set on a fold summary only: the first and last of the repeats it counts.</summary>
    public DateTimeOffset? FirstTime { get; init; }
    public DateTimeOffset? LastTime { get; init; }
    public bool IsFoldSummary => FirstTime is not null;
    /// <summary>Set when the detection reports an in-kernel response (a kill, a signal, or a "would kill").</summary>
    public Remediation? Remediation { get; init; }
    /// <summary>Set once journaled: the journal's random id, fixed when it was created (a new one means it was reset).</summary>
    public string JournalId { get; init; } = "";
    /// <summary>Set once journaled: the agent host's fleet identity.</summary>
    public string HostId { get; init; } = "";
    /// <summary>Set once journaled: the agent journal's own sequence (on a fleet stream, <see cref="Sequence"/> is the fleet's).</summary>
    public ulong AgentSequence { get; init; }
}
