using System.Runtime.CompilerServices;

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
    /// <summary>The CPU the call exited on.</summary>
    public int Cpu { get; set; }
    /// <summary>The caller's process id (tgid).</summary>
    public int Pid { get; set; }
    /// <summary>The caller's thread id.</summary>
    public int Tid { get; set; }
    /// <summary>The caller's parent process id.</summary>
    public int Ppid { get; set; }
    /// <summary>The caller's real user id.</summary>
    public uint Uid { get; set; }
    /// <summary>The caller's effective user id.</summary>
    public uint Euid { get; set; }
    /// <summary>The caller's real group id.</summary>
    public uint Gid { get; set; }
    /// <summary>The caller's effective capabilities, a bit per <see cref="Capability"/> (see <see cref="HasCapability"/>).</summary>
    public ulong CapEffective { get; set; }
    /// <summary>The caller's command name (task comm, at most 15 characters).</summary>
    public string Comm { get; set; } = "";
    /// <summary>The inode of the caller's mount namespace.</summary>
    public ulong MountNamespace { get; set; }
    /// <summary>The inode of the caller's pid namespace.</summary>
    public ulong PidNamespace { get; set; }
    /// <summary>The id of the caller's cgroup (v2).</summary>
    public ulong CgroupId { get; set; }
    /// <summary>True for a 32-bit (compat) call on a 64-bit kernel.</summary>
    public bool Compat { get; set; }
    /// <summary>How the probes that saw the call were attached.</summary>
    public AttachStrategy Strategy { get; set; }

    // ---- arguments ----
    /// <summary>The pid argument: the process whose pages move (0 = the caller).</summary>
    public int TargetPid { get; set; }
    /// <summary>The count argument: how many pages the call names.</summary>
    public ulong Count { get; set; }
    /// <summary>The pages argument: the user address of the page address array.</summary>
    public ulong PagesAddress { get; set; }
    /// <summary>The nodes argument: the user address of the target node array (0 = query mode).</summary>
    public ulong NodesAddress { get; set; }
    /// <summary>The status argument: the user address of the per-page status array.</summary>
    public ulong StatusAddress { get; set; }
    /// <summary>The flags argument (<see cref="MoveFlags"/>; see <see cref="HasFlag"/>).</summary>
    public int Flags { get; set; }
    /// <summary>The return value: 0, a count of pages not migrated, or -errno.</summary>
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
    public bool IsFold { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => FoldCount > 1; }

    // ---- captured copies ----
    /// <summary>How many array entries were copied: min(count, <see cref="MaxCopied"/>).</summary>
    public int CopiedCount { get; set; }
    /// <summary>Which of the arrays were copied.</summary>
    public CopyFlags Copies { get; set; }
    /// <summary>Bit i set: pages[i] differed between the entry and exit reads.</summary>
    public uint PagesChangedMask { get; set; }
    /// <summary>Bit i set: nodes[i] differed between the entry and exit reads.</summary>
    public uint NodesChangedMask { get; set; }

    /// <summary>The first <see cref="CopiedCount"/> entries of pages[], read at entry.</summary>
    public ReadOnlySpan<ulong> PagesAtEntry => Copied(_pagesAtEntry, CopyFlags.PagesAtEntry);
    /// <summary>The first <see cref="CopiedCount"/> entries of pages[], read again at exit.</summary>
    public ReadOnlySpan<ulong> PagesAtExit => Copied(_pagesAtExit, CopyFlags.PagesAtExit);
    /// <summary>The first <see cref="CopiedCount"/> entries of nodes[], read at entry.</summary>
    public ReadOnlySpan<int> NodesAtEntry => Copied(_nodesAtEntry, CopyFlags.NodesAtEntry);
    /// <summary>The first <see cref="CopiedCount"/> entries of nodes[], read again at exit.</summary>
    public ReadOnlySpan<int> NodesAtExit => Copied(_nodesAtExit, CopyFlags.NodesAtExit);
    /// <summary>The first <see cref="CopiedCount"/> entries of status[] at exit (node or -errno per page).</summary>
    public ReadOnlySpan<int> Status => Copied(_status, CopyFlags.StatusAtExit);

    /// <summary>Full-size buffers for decoders; set <see cref="CopiedCount"/> and <see cref="Copies"/> to publish them.</summary>
    public Span<ulong> PagesAtEntryBuffer => _pagesAtEntry;
    public Span<ulong> PagesAtExitBuffer => _pagesAtExit;
    public Span<int> NodesAtEntryBuffer => _nodesAtEntry;
    public Span<int> NodesAtExitBuffer => _nodesAtExit;
    public Span<int> StatusBuffer => _status;

    // ---- enrichment (filled by the process tree when it runs) ----
    /// <summary>What the process tree adds: caller and target identity, ancestry, container, cross-user/-process flags.</summary>
    public EventEnrichment Enrichment { get; } = new();

    /// <summary>
    /// The event's wire form once a consumer made it (Sentinel.Contracts), shared by every later consumer of this
    /// content: cleared by <see cref="Reset"/> so it never outlives a pooled event's reuse, and passed on by
    /// <see cref="CopyTo"/> with the content it describes. Internal: rules must not see or forge it.
    /// </summary>
    internal object? Converted { get; set; }

    // ---- derived views rules use ----
    /// <summary>True when nodes is NULL: the call only reports where each page lives.</summary>
    public bool IsQueryMode { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => NodesAddress == 0; }
    /// <summary>True when the call acts on the caller itself (pid 0 or its own pid).</summary>
    public bool IsSelf { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => TargetPid == 0 || TargetPid == Pid; }
    /// <summary>The pid the call acts on: the caller itself when the argument is 0.</summary>
    public int EffectiveTargetPid { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => TargetPid == 0 ? Pid : TargetPid; }
    /// <summary>True if <paramref name="flag"/> is set in <see cref="Flags"/>.</summary>
    public bool HasFlag(MoveFlags flag) => (Flags & (int)flag) != 0;
    /// <summary>The errno of a failed call (0 if it succeeded).</summary>
    public int Errno { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ReturnValue < 0 ? (int)-ReturnValue : 0; }
    /// <summary>The errno's name, e.g. "EPERM" (null if the call succeeded).</summary>
    public string? ErrnoName => ReturnValue < 0 ? Events.Errno.Name(Errno) : null;
    /// <summary>True if the call returned an error.</summary>
    public bool Failed { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => ReturnValue < 0; }
    /// <summary>True if the caller had <paramref name="cap"/> in its effective set.</summary>
    public bool HasCapability(Capability cap) => CapabilitySet.Has(CapEffective, cap);
    /// <summary>True if pages[] or nodes[] changed between entry and exit (a race on the arrays).</summary>
    public bool HasToctouEvidence { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => (PagesChangedMask | NodesChangedMask) != 0; }
    /// <summary><see cref="TimeUnixNs"/> as a DateTimeOffset.</summary>
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
        Converted = null;
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
        target.Converted = Converted;
    }

    /// <summary>A detached copy that survives the pooled original being reused.</summary>
    public MovePagesEvent Clone()
    {
        var copy = new MovePagesEvent();
        CopyTo(copy);
        return copy;
    }
}
