namespace Sentinel.Events;

/// <summary>Which user-memory reads the probe managed (a failed read leaves that copy empty).</summary>
[Flags]
public enum CopyFlags : byte
{
    None = 0,
    PagesAtEntry = 1,
    NodesAtEntry = 2,
    PagesAtExit = 4,
    NodesAtExit = 8,
    StatusAtExit = 16,
}

/// <summary>
/// One move_pages call, emitted at exit and joined with its entry. Instances are pooled and reused by the
/// pipeline, so anything kept past <c>Evaluate</c> must be a <see cref="Clone"/>.
/// </summary>
public sealed class MovePagesEvent
{
    /// <summary>How many entries of pages[], nodes[] and status[] the probe copies (the BPF build constant).</summary>
    public const int MaxCopied = 16;

    private readonly ulong[] _pagesAtEntry = new ulong[MaxCopied];
    private readonly ulong[] _pagesAtExit = new ulong[MaxCopied];
    private readonly int[] _nodesAtEntry = new int[MaxCopied];
    private readonly int[] _nodesAtExit = new int[MaxCopied];
    private readonly int[] _status = new int[MaxCopied];

    // ---- context ----
    /// <summary>Wall-clock time of the exit, in ns since the Unix epoch.</summary>
    public long TimeUnixNs { get; set; }
    /// <summary>Time spent inside the call, in ns (exit − entry).</summary>
    public long DurationNs { get; set; }
    public int Cpu { get; set; }
    public int Pid { get; set; }
    public int Tid { get; set; }
    public int Ppid { get; set; }
    public uint Uid { get; set; }
    public uint Euid { get; set; }
    public uint Gid { get; set; }
    public ulong CapEffective { get; set; }
    public string Comm { get; set; } = "";
    public ulong MountNamespace { get; set; }
    public ulong PidNamespace { get; set; }
    public ulong CgroupId { get; set; }
    public bool Compat { get; set; }
    public AttachStrategy Strategy { get; set; }

    // ---- arguments ----
    public int TargetPid { get; set; }
    public ulong Count { get; set; }
    public ulong PagesAddress { get; set; }
    public ulong NodesAddress { get; set; }
    public ulong StatusAddress { get; set; }
    public int Flags { get; set; }
    public long ReturnValue { get; set; }

    // ---- folding ----
    /// <summary>
    /// How many identical calls this event stands for: 1, or n &gt; 1 when the probe folded a flood while the
    /// reader lagged (same caller, target, flags, result and array contents). The rest of the event is the first
    /// of those calls.
    /// </summary>
    public long FoldCount { get; set; } = 1;
    /// <summary>Exit time of the first call folded into this event, in ns since the Unix epoch.</summary>
    public long FoldFirstUnixNs { get; set; }
    /// <summary>Exit time of the last call folded into this event, in ns since the Unix epoch.</summary>
    public long FoldLastUnixNs { get; set; }
    public bool IsFold => FoldCount > 1;

    // ---- captured copies ----
    /// <summary>How many array entries were copied: min(count, <see cref="MaxCopied"/>).</summary>
    public int CopiedCount { get; set; }
    public CopyFlags Copies { get; set; }
    /// <summary>Bit i set: pages[i] differed between the entry and exit reads.</summary>
    public uint PagesChangedMask { get; set; }
    /// <summary>Bit i set: nodes[i] differed between the entry and exit reads.</summary>
    public uint NodesChangedMask { get; set; }

    public ReadOnlySpan<ulong> PagesAtEntry => Copied(_pagesAtEntry, CopyFlags.PagesAtEntry);
    public ReadOnlySpan<ulong> PagesAtExit => Copied(_pagesAtExit, CopyFlags.PagesAtExit);
    public ReadOnlySpan<int> NodesAtEntry => Copied(_nodesAtEntry, CopyFlags.NodesAtEntry);
    public ReadOnlySpan<int> NodesAtExit => Copied(_nodesAtExit, CopyFlags.NodesAtExit);
    public ReadOnlySpan<int> Status => Copied(_status, CopyFlags.StatusAtExit);

    /// <summary>Full-size buffers for decoders; set <see cref="CopiedCount"/> and <see cref="Copies"/> to publish them.</summary>
    public Span<ulong> PagesAtEntryBuffer => _pagesAtEntry;
    public Span<ulong> PagesAtExitBuffer => _pagesAtExit;
    public Span<int> NodesAtEntryBuffer => _nodesAtEntry;
    public Span<int> NodesAtExitBuffer => _nodesAtExit;
    public Span<int> StatusBuffer => _status;

    // ---- enrichment (filled by the process tree when it runs) ----
    public EventEnrichment Enrichment { get; } = new();

    // ---- derived views rules use ----
    public bool IsQueryMode => NodesAddress == 0;
    public bool IsSelf => TargetPid == 0 || TargetPid == Pid;
    /// <summary>The pid the call acts on: the caller itself when the argument is 0.</summary>
    public int EffectiveTargetPid => TargetPid == 0 ? Pid : TargetPid;
    public bool HasFlag(MoveFlags flag) => (Flags & (int)flag) != 0;
    public int Errno => ReturnValue < 0 ? (int)-ReturnValue : 0;
    public string? ErrnoName => ReturnValue < 0 ? Events.Errno.Name(Errno) : null;
    public bool Failed => ReturnValue < 0;
    public bool HasCapability(Capability cap) => CapabilitySet.Has(CapEffective, cap);
    public bool HasToctouEvidence => (PagesChangedMask | NodesChangedMask) != 0;
    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeMilliseconds(TimeUnixNs / 1_000_000)
        .AddTicks(TimeUnixNs % 1_000_000 / 100);

    /// <summary>Recomputes the TOCTOU masks from the entry and exit copies.</summary>
    public void ComputeToctou()
    {
        PagesChangedMask = Diff(_pagesAtEntry, _pagesAtExit, CopyFlags.PagesAtEntry | CopyFlags.PagesAtExit);
        NodesChangedMask = Diff(_nodesAtEntry, _nodesAtExit, CopyFlags.NodesAtEntry | CopyFlags.NodesAtExit);
    }

    private uint Diff<T>(T[] entry, T[] exit, CopyFlags both) where T : IEquatable<T>
    {
        if ((Copies & both) != both) return 0;
        uint mask = 0;
        for (var i = 0; i < CopiedCount; i++)
            if (!entry[i].Equals(exit[i])) mask |= 1u << i;
        return mask;
    }

    private ReadOnlySpan<T> Copied<T>(T[] buffer, CopyFlags flag) =>
        (Copies & flag) != 0 ? buffer.AsSpan(0, CopiedCount) : ReadOnlySpan<T>.Empty;

    public void Reset()
    {
        TimeUnixNs = DurationNs = 0;
        Cpu = Pid = Tid = Ppid = 0;
        Uid = Euid = Gid = 0;
        CapEffective = MountNamespace = PidNamespace = CgroupId = 0;
        Comm = "";
        Compat = false;
        Strategy = AttachStrategy.Unknown;
        TargetPid = Flags = 0;
        Count = PagesAddress = NodesAddress = StatusAddress = 0;
        ReturnValue = 0;
        FoldCount = 1;
        FoldFirstUnixNs = FoldLastUnixNs = 0;
        CopiedCount = 0;
        Copies = CopyFlags.None;
        PagesChangedMask = NodesChangedMask = 0;
        Enrichment.Reset();
    }

    public void CopyTo(MovePagesEvent target)
    {
        target.TimeUnixNs = TimeUnixNs; target.DurationNs = DurationNs; target.Cpu = Cpu;
        target.Pid = Pid; target.Tid = Tid; target.Ppid = Ppid;
        target.Uid = Uid; target.Euid = Euid; target.Gid = Gid; target.CapEffective = CapEffective;
        target.Comm = Comm; target.MountNamespace = MountNamespace; target.PidNamespace = PidNamespace;
        target.CgroupId = CgroupId; target.Compat = Compat; target.Strategy = Strategy;
        target.TargetPid = TargetPid; target.Count = Count; target.PagesAddress = PagesAddress;
        target.NodesAddress = NodesAddress; target.StatusAddress = StatusAddress; target.Flags = Flags;
        target.ReturnValue = ReturnValue; target.FoldCount = FoldCount;
        target.FoldFirstUnixNs = FoldFirstUnixNs; target.FoldLastUnixNs = FoldLastUnixNs; target.CopiedCount = CopiedCount; target.Copies = Copies;
        target.PagesChangedMask = PagesChangedMask; target.NodesChangedMask = NodesChangedMask;
        _pagesAtEntry.CopyTo(target._pagesAtEntry); _pagesAtExit.CopyTo(target._pagesAtExit);
        _nodesAtEntry.CopyTo(target._nodesAtEntry); _nodesAtExit.CopyTo(target._nodesAtExit);
        _status.CopyTo(target._status);
        Enrichment.CopyTo(target.Enrichment);
    }

    /// <summary>A detached copy that survives the pooled original being reused.</summary>
    public MovePagesEvent Clone()
    {
        var copy = new MovePagesEvent();
        CopyTo(copy);
        return copy;
    }
}
