namespace Sentinel.Events;

/// <summary>
/// A process as the process tree knows it. (Pid, StartTimeNs) is the entity id: pid reuse never mixes
/// two processes up. Instances are immutable snapshots, shared between events.
/// </summary>
public sealed record ProcessInfo
{
    public required int Pid { get; init; }
    /// <summary>Start time in ns since boot (the kernel's task start_boottime).</summary>
    public required ulong StartTimeNs { get; init; }
    public int ParentPid { get; init; }
    public ulong ParentStartTimeNs { get; init; }
    public string Comm { get; init; } = "";
    public string ExePath { get; init; } = "";
    public IReadOnlyList<string> Args { get; init; } = [];
    public uint Uid { get; init; }
    public uint Euid { get; init; }
    public uint Gid { get; init; }
    public bool IsSetuid { get; init; }
    public ulong MountNamespace { get; init; }
    public ulong PidNamespace { get; init; }
    public string CgroupPath { get; init; } = "";
    /// <summary>The container id parsed from the cgroup path (docker, containerd, cri-o, podman), or "".</summary>
    public string ContainerId { get; init; } = "";
    public bool Exited { get; init; }

    public string EntityId => $"{Pid}:{StartTimeNs}";
}

/// <summary>What the process tree adds to an event. Reused with the event; lists are cleared, not reallocated.</summary>
public sealed class EventEnrichment
{
    private readonly List<ProcessInfo> _ancestry = new(8);

    public bool Enriched { get => _s.Enriched; set => _s.Enriched = value; }
    public ProcessInfo? Caller { get => _s.Caller; set => _s.Caller = value; }
    /// <summary>The process `pid` names (the caller itself when pid is 0); null if unknown or gone.</summary>
    public ProcessInfo? Target { get => _s.Target; set => _s.Target = value; }
    /// <summary>The caller's parent first, then its parent, up to the configured depth.</summary>
    public IReadOnlyList<ProcessInfo> Ancestry => _ancestry;
    public List<ProcessInfo> AncestryBuffer => _ancestry;
    public bool IsCrossProcess { get => _s.IsCrossProcess; set => _s.IsCrossProcess = value; }
    public bool IsCrossUser { get => _s.IsCrossUser; set => _s.IsCrossUser = value; }
    public bool IsCrossContainer { get => _s.IsCrossContainer; set => _s.IsCrossContainer = value; }
    public bool CallerInHostNamespaces { get => _s.CallerInHostNamespaces; set => _s.CallerInHostNamespaces = value; }

    public void Reset()
    {
        _s = default;
        _ancestry.Clear();
    }

    public void CopyTo(EventEnrichment target)
    {
        target._s = _s;
        target._ancestry.Clear(); target._ancestry.AddRange(_ancestry);
    }

    // Every scalar lives here, as in MovePagesEvent: Reset and CopyTo cannot forget one. All start at default.
    private State _s;

    private struct State
    {
        public bool Enriched;
        public ProcessInfo? Caller, Target;
        public bool IsCrossProcess, IsCrossUser, IsCrossContainer, CallerInHostNamespaces;
    }
}
