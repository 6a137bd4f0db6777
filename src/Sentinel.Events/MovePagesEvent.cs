using System.Diagnostics.CodeAnalysis;
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
    public long TimeUnixNs { get => _s.TimeUnixNs; set => _s.TimeUnixNs = value; }
    /// <summary>Time spent inside the call, in ns (exit − entry).</summary>
    public long DurationNs { get => _s.DurationNs; set => _s.DurationNs = value; }
    /// <summary>The CPU the call exited on.</summary>
    public int Cpu { get => _s.Cpu; set => _s.Cpu = value; }
    /// <summary>The caller's process id (tgid).</summary>
    public int Pid { get => _s.Pid; set => _s.Pid = value; }
    /// <summary>The caller's thread id.</summary>
    public int Tid { get => _s.Tid; set => _s.Tid = value; }
    /// <summary>The caller's parent process id.</summary>
    public int Ppid { get => _s.Ppid; set => _s.Ppid = value; }
    /// <summary>The caller's real user id.</summary>
    public uint Uid { get => _s.Uid; set => _s.Uid = value; }
    /// <summary>The caller's effective user id.</summary>
    public uint Euid { get => _s.Euid; set => _s.Euid = value; }
    /// <summary>The caller's real group id.</summary>
    public uint Gid { get => _s.Gid; set => _s.Gid = value; }
    /// <summary>The caller's effective capabilities, a bit per <see cref="Capability"/> (see <see cref="HasCapability"/>).</summary>
    public ulong CapEffective { get => _s.CapEffective; set => _s.CapEffective = value; }
    /// <summary>The caller's command name (task comm, at most 15 characters).</summary>
    public string Comm { get => _s.Comm; set => _s.Comm = value; }
    /// <summary>The inode of the caller's mount namespace.</summary>
    public ulong MountNamespace { get => _s.MountNamespace; set => _s.MountNamespace = value; }
    /// <summary>The inode of the caller's pid namespace.</summary>
    public ulong PidNamespace { get => _s.PidNamespace; set => _s.PidNamespace = value; }
    /// <summary>The id of the caller's cgroup (v2).</summary>
    public ulong CgroupId { get => _s.CgroupId; set => _s.CgroupId = value; }
    /// <summary>True for a 32-bit (compat) call on a 64-bit kernel.</summary>
    public bool Compat { get => _s.Compat; set => _s.Compat = value; }
    /// <summary>How the probes that saw the call were attached.</summary>
    public AttachStrategy Strategy { get => _s.Strategy; set => _s.Strategy = value; }

    // ---- arguments ----
    /// <summary>The pid argument: the process whose pages move (0 = the caller).</summary>
    public int TargetPid { get => _s.TargetPid; set => _s.TargetPid = value; }
    /// <summary>The count argument: how many pages the call names.</summary>
    public ulong Count { get => _s.Count; set => _s.Count = value; }
    /// <summary>The pages argument: the user address of the page address array.</summary>
    public ulong PagesAddress { get => _s.PagesAddress; set => _s.PagesAddress = value; }
    /// <summary>The nodes argument: the user address of the target node array (0 = query mode).</summary>
    public ulong NodesAddress { get => _s.NodesAddress; set => _s.NodesAddress = value; }
    /// <summary>The status argument: the user address of the per-page status array.</summary>
    public ulong StatusAddress { get => _s.StatusAddress; set => _s.StatusAddress = value; }
    /// <summary>The flags argument (<see cref="MoveFlags"/>; see <see cref="HasFlag"/>).</summary>
    public int Flags { get => _s.Flags; set => _s.Flags = value; }
    /// <summary>The return value: 0, a count of pages not migrated, or -errno.</summary>
    public long ReturnValue { get => _s.ReturnValue; set => _s.ReturnValue = value; }

    // ---- folding ----
    /// <summary>
    /// How many identical calls this event stands for: 1, or n &gt; 1 when the probe folded a flood while the
    /// reader lagged (same caller, target, flags, result and array contents). The rest of the event is the first
    /// of those calls.
    /// </summary>
    public long FoldCount { get => _s.FoldCount; set => _s.FoldCount = value; }
    /// <summary>Exit time of the first call folded into this event, in ns since the Unix epoch.</summary>
    public long FoldFirstUnixNs { get => _s.FoldFirstUnixNs; set => _s.FoldFirstUnixNs = value; }
    /// <summary>Exit time of the last call folded into this event, in ns since the Unix epoch.</summary>
    public long FoldLastUnixNs { get => _s.FoldLastUnixNs; set => _s.FoldLastUnixNs = value; }
    public bool IsFold { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => FoldCount > 1; }

    // ---- captured copies ----
    /// <summary>How many array entries were copied: min(count, <see cref="MaxCopied"/>).</summary>
    public int CopiedCount { get => _s.CopiedCount; set => _s.CopiedCount = value; }
    /// <summary>Which of the arrays were copied.</summary>
    public CopyFlags Copies { get => _s.Copies; set => _s.Copies = value; }
    /// <summary>Bit i set: pages[i] differed between the entry and exit reads.</summary>
    public uint PagesChangedMask { get => _s.PagesChangedMask; set => _s.PagesChangedMask = value; }
    /// <summary>Bit i set: nodes[i] differed between the entry and exit reads.</summary>
    public uint NodesChangedMask { get => _s.NodesChangedMask; set => _s.NodesChangedMask = value; }

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
    internal object? Converted { get => _s.Converted; set => _s.Converted = value; }

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

    /// <summary>Back to a fresh event's state, for reuse by the pool (the arrays are hidden until <see cref="Copies"/> publishes them again).</summary>
    public void Reset()
    {
        _s.Reset();
        Enrichment.Reset();
    }

    /// <summary>Makes <paramref name="target"/> an exact copy of this event, its wire form included.</summary>
    public void CopyTo(MovePagesEvent target)
    {
        target._s = _s;
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

    // Every scalar of the event lives here, so Reset (State.Reset) and CopyTo (one struct copy) cannot forget a
    // field added later: a new property forwards to a new member of State.
    private State _s = new();

    private struct State
    {
        public State() => Reset();

        /// <summary>
        /// A fresh event's state: all zero but these two. Cleared in place, because assigning a new State to the
        /// event's field copies it through write barriers (it holds references): twice the cost of the old Reset.
        /// </summary>
        [MemberNotNull(nameof(Comm))]
        public void Reset()
        {
            this = default;
            Comm = "";
            FoldCount = 1;
        }

        public long TimeUnixNs, DurationNs;
        public int Cpu, Pid, Tid, Ppid;
        public uint Uid, Euid, Gid;
        public ulong CapEffective;
        public string Comm;
        public ulong MountNamespace, PidNamespace, CgroupId;
        public bool Compat;
        public AttachStrategy Strategy;

        public int TargetPid;
        public ulong Count, PagesAddress, NodesAddress, StatusAddress;
        public int Flags;
        public long ReturnValue;

        public long FoldCount, FoldFirstUnixNs, FoldLastUnixNs;

        public int CopiedCount;
        public CopyFlags Copies;
        public uint PagesChangedMask, NodesChangedMask;

        public object? Converted;
    }
}
