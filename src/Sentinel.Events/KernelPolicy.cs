namespace Sentinel.Events;

/// <summary>What the kernel does to a caller: kill it, send it a signal (e.g. SIGSTOP to keep it for forensics), or
/// only report ("audit").</summary>
public readonly record struct ResponseAction(ResponseKind Kind, int SignalNumber)
{
    public static ResponseAction Kill { get; } = new(ResponseKind.Kill, 9);
    public static ResponseAction Audit { get; } = new(ResponseKind.Audit, 0);
    public static ResponseAction Signal(int number) => new(ResponseKind.Signal, number);

    public override string ToString() => Kind switch
    {
        ResponseKind.Kill => "kill",
        ResponseKind.Signal => $"signal({SignalNumber})",
        ResponseKind.Audit => "audit",
        _ => "none",
    };
}

public enum ResponseKind
{
    None = 0,
    Kill = 1,
    Signal = 2,
    Audit = 3,
}

/// <summary>Whose memory the call names: the caller itself (pid 0 or its own pid) or another process.</summary>
public enum CallTarget
{
    Any = 0,
    Self = 1,
    Other = 2,
}

/// <summary>Where the caller runs: in a container (a mount namespace other than the host's) or on the host.</summary>
public enum CallerNamespace
{
    Any = 0,
    Container = 1,
    Host = 2,
}

/// <summary>
/// A precondition the kernel evaluates at sys_enter, before move_pages runs. It can only name what is known at
/// entry: the flags, the target pid, the count, the caller's ids, capabilities, namespace and comm, and whether the
/// call is 32-bit. The result, errno and status[] exist only after the call, so they cannot appear here. Every
/// field set must match (and); unset fields match anything.
/// </summary>
public sealed record KernelPolicy
{
    /// <summary>Every one of these flags is set.</summary>
    public MoveFlags? Flags { get; init; }
    public CallTarget Target { get; init; }
    /// <summary>count is at least this.</summary>
    public ulong? MinCount { get; init; }
    public uint? Uid { get; init; }
    public uint? Euid { get; init; }
    /// <summary>The caller lacks this capability.</summary>
    public Capability? Lacks { get; init; }
    /// <summary>The caller has this capability.</summary>
    public Capability? Has { get; init; }
    public CallerNamespace Namespace { get; init; }
    /// <summary>The caller's comm, exactly (at most 15 characters).</summary>
    public string? Comm { get; init; }
    /// <summary>The call is a 32-bit (compat) call.</summary>
    public bool? Compat { get; init; }
}

/// <summary>
/// A rule's response. <see cref="When"/> is a kernel precondition acted on at sys_enter with no round trip to user
/// space; <see cref="OnDetection"/> marks the caller of any detection of the rule (by pid and start time), so its
/// next move_pages is acted on. Nothing happens unless the agent runs with --enforce (or --enforce=audit).
/// </summary>
public sealed record RuleResponse
{
    /// <summary>Kill the caller of a detection at its next move_pages (the verdict path).</summary>
    public static RuleResponse Kill { get; } = new() { Action = ResponseAction.Kill, OnDetection = true };

    public KernelPolicy? When { get; init; }
    public ResponseAction Action { get; init; } = ResponseAction.Kill;
    public bool OnDetection { get; init; }
}

/// <summary>A response the kernel took or withheld, attached to the detection that reports it.</summary>
public sealed record Remediation(string Action, string Result, string Path, string Detail);
