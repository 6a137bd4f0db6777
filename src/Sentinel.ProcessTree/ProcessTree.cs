using Sentinel.Events;

namespace Sentinel.ProcessTree;

/// <summary>Counters of what the tree has done, for status and tests.</summary>
public readonly record struct ProcessTreeStats(
    int Count, int Live, int Exited, long Seeded, long Forks, long Execs, long Exits,
    long Evicted, long Pruned, long ProcLookups, long ProcLookupsRefused);

/// <summary>
/// Every process Sentinel knows, by entity (pid + start time), fed by the fork/exec/exit probes and seeded
/// from /proc. Several incarnations of one pid can coexist (a reused pid while the old one is in its exit
/// grace period), newest first, so an event is attributed to the process that held the pid at its time.
/// <para>
/// Bounded: at most <see cref="ProcessTreeOptions.Capacity"/> nodes. When full, exited processes go first
/// (oldest exit first), then the least recently used live process. Exited processes are also pruned once
/// their grace period passes. Snapshots are immutable <see cref="ProcessInfo"/> records, replaced (never
/// mutated) on exec or a credential change, so events can hold them without copying.
/// </para>
/// Thread-safe: the feeder writes while the pipeline enriches.
/// </summary>
public sealed class ProcessTree
{
    private const ulong ExitSlackNs = 10_000_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<int, Node> _byPid = [];
    private readonly NodeList _live = new();
    private readonly NodeList _exited = new();
    private readonly StringPool _strings = new();
    private readonly ContainerCache _containers = new();
    private readonly ProcFs _procFs;
    private readonly ulong _graceNs;
    private int _count;
    private long _seeded, _forks, _execs, _exits, _evicted, _pruned, _procLookups, _procRefused;
    private long _procWindowStartMs, _procWindowCount;

    public ProcessTree(ProcessTreeOptions? options = null)
    {
        Options = options ?? new ProcessTreeOptions();
        Options.Validate();
        _procFs = new ProcFs(Options.ProcRoot, Options.MaxArgs);
        _graceNs = (ulong)Options.ExitGracePeriod.Ticks * 100;
        HostMountNamespace = Options.HostMountNamespace != 0 ? Options.HostMountNamespace : HostNamespace("mnt");
        HostPidNamespace = Options.HostPidNamespace != 0 ? Options.HostPidNamespace : HostNamespace("pid");
    }

    public ProcessTreeOptions Options { get; }

    /// <summary>The mount and pid namespaces of pid 1: a caller in both runs on the host.</summary>
    public ulong HostMountNamespace { get; }
    public ulong HostPidNamespace { get; }

    /// <summary>pid 1's namespace; where init hides it (some sandboxes), the agent's own, as it runs on the host.</summary>
    private ulong HostNamespace(string kind)
    {
        var init = _procFs.ReadNamespace(1, kind);
        return init != 0 ? init : _procFs.ReadNamespace(Environment.ProcessId, kind);
    }

    public int Count { get { lock (_lock) return _count; } }

    public ProcessTreeStats Stats
    {
        get
        {
            lock (_lock)
                return new(_count, _live.Count, _exited.Count, _seeded, _forks, _execs, _exits, _evicted, _pruned,
                    _procLookups, _procRefused);
        }
    }

    /// <summary>Adds every process now in /proc. Call after the probes attach, so no process falls between the two.</summary>
    public int SeedFromProc()
    {
        var seeded = 0;
        foreach (var pid in _procFs.Pids())
        {
            if (_procFs.TryRead(pid, _strings, _containers) is not { } info) continue;
            lock (_lock)
            {
                // A probe record may already have told us more (e.g. the exe after an exec): keep it.
                if (FindEntity(pid, info.StartTimeNs) is not null) continue;
                Upsert(info, cgroupId: 0);
                _seeded++;
            }
            seeded++;
        }
        return seeded;
    }

    /// <summary>Adds a process, or replaces the snapshot of the same entity (same pid and start time).</summary>
    public void Add(ProcessInfo info, ulong cgroupId = 0)
    {
        lock (_lock) Upsert(info, cgroupId);
    }

    /// <summary>Marks the entity exited at <paramref name="exitNs"/> (boot clock); it stays resolvable for the grace period.</summary>
    public void MarkExited(int pid, ulong startTimeNs, ulong exitNs)
    {
        lock (_lock)
        {
            if (FindEntity(pid, startTimeNs) is { } node) MarkExited(node, exitNs);
        }
    }

    /// <summary>Applies one fork, exec or exit record from the probes.</summary>
    public void Apply(in ProcTreeRecord record)
    {
        var start = record.StartNs;
        switch ((ProcTreeHeader.ProcKind)record.Kind)
        {
            case ProcTreeHeader.ProcKind.Fork: ApplyFork(record, start); break;
            case ProcTreeHeader.ProcKind.Exec: ApplyExec(record, start); break;
            case ProcTreeHeader.ProcKind.Exit:
                lock (_lock)
                {
                    _exits++;
                    if (FindEntity((int)record.Pid, start) is { } node) MarkExited(node, record.TimeNs);
                }
                break;
        }
    }

    /// <summary>Removes exited processes whose grace period has passed at <paramref name="nowNs"/> (boot clock).</summary>
    public int Prune(ulong nowNs)
    {
        var pruned = 0;
        lock (_lock)
        {
            while (_exited.Head is { } oldest && oldest.ExitNs + _graceNs <= nowNs)
            {
                Remove(oldest);
                pruned++;
            }
            _pruned += pruned;
        }
        return pruned;
    }

    /// <summary>The newest process with this pid the tree knows, alive or in its grace period.</summary>
    public ProcessInfo? Find(int pid)
    {
        lock (_lock) return _byPid.TryGetValue(pid, out var node) ? node.Info : null;
    }

    /// <summary>The process with exactly this identity, if the tree still holds it.</summary>
    public ProcessInfo? Find(int pid, ulong startTimeNs)
    {
        lock (_lock) return FindEntity(pid, startTimeNs)?.Info;
    }

    /// <summary>
    /// The process that held <paramref name="pid"/> at <paramref name="atNs"/> (boot clock; 0 = now). Falls back
    /// to /proc for a process the probes have not reported yet, so a stale identity is never returned.
    /// </summary>
    public ProcessInfo? Resolve(int pid, ulong atNs)
    {
        if (pid <= 0) return null;
        lock (_lock)
        {
            if (FindAt(pid, atNs) is { } node)
            {
                Touch(node);
                return node.Info;
            }
        }
        return ResolveFromProc(pid, atNs, expectedStart: 0);
    }

    /// <summary>The parent of <paramref name="child"/> by its recorded identity, via /proc if the tree lost it.</summary>
    public ProcessInfo? ResolveParent(ProcessInfo child)
    {
        if (child.ParentPid <= 0) return null;
        lock (_lock)
        {
            if (FindEntity(child.ParentPid, child.ParentStartTimeNs) is { } node)
            {
                Touch(node);
                return node.Info;
            }
        }
        // A parent we never saw: only the exact identity will do, or ancestry would name a stranger.
        var parent = child.ParentStartTimeNs == 0 ? null : ResolveFromProc(child.ParentPid, 0, child.ParentStartTimeNs);
        if (parent is null)
        {
            // Gone for good (exited and pruned): do not look for it again on every event of its children.
            lock (_lock)
                if (FindEntity(child.Pid, child.StartTimeNs) is { } node) node.ParentGone = true;
        }
        return parent;
    }

    /// <summary>What <see cref="EnrichFromTree"/> could not find in the tree.</summary>
    [Flags]
    internal enum Missing
    {
        None = 0,
        Caller = 1,
        Ancestry = 2,
        Target = 4,
    }

    /// <summary>
    /// The enrichment fast path: caller, ancestry and target from the tree under one lock, allocating nothing
    /// unless the caller's credentials or namespaces changed. Reports what it could not find, for the enricher
    /// to finish through /proc. <paramref name="targetPid"/> ≤ 0 means no target to resolve.
    /// </summary>
    internal Missing EnrichFromTree(MovePagesEvent evt, ulong atNs, int depth, int targetPid)
    {
        var e = evt.Enrichment;
        var missing = Missing.None;
        lock (_lock)
        {
            if (evt.Pid > 0 && FindAt(evt.Pid, atNs) is { } caller)
            {
                Touch(caller);
                e.Caller = RefreshLocked(caller, evt);
                for (var node = caller; e.AncestryBuffer.Count < depth && node.Info.ParentPid > 0 && !node.ParentGone;)
                {
                    if (FindEntity(node.Info.ParentPid, node.Info.ParentStartTimeNs) is not { } parent)
                    {
                        missing |= Missing.Ancestry;
                        break;
                    }
                    Touch(parent);
                    e.AncestryBuffer.Add(parent.Info);
                    node = parent;
                }
            }
            else
            {
                missing |= Missing.Caller | Missing.Ancestry;
            }

            if (targetPid > 0)
            {
                if (FindAt(targetPid, atNs) is { } target)
                {
                    Touch(target);
                    e.Target = target.Info;
                }
                else
                {
                    missing |= Missing.Target;
                }
            }
        }
        return missing;
    }

    /// <summary>
    /// Brings the caller's snapshot up to date with what the kernel reported at the call: credentials change on
    /// setuid() and namespaces on unshare()/setns() without an exec. Allocates only when something changed.
    /// </summary>
    internal ProcessInfo RefreshFromEvent(ProcessInfo caller, MovePagesEvent evt)
    {
        lock (_lock)
            return FindEntity(caller.Pid, caller.StartTimeNs) is { } node ? RefreshLocked(node, evt) : caller;
    }

    private ProcessInfo RefreshLocked(Node node, MovePagesEvent evt)
    {
        var info = node.Info;
        if (node.Exited) return info;
        if (node.CgroupId == 0) node.CgroupId = evt.CgroupId; // seeded from /proc: learn it
        var mnt = evt.MountNamespace != 0 ? evt.MountNamespace : info.MountNamespace;
        var pidNs = evt.PidNamespace != 0 ? evt.PidNamespace : info.PidNamespace;
        var cgroupChanged = evt.CgroupId != 0 && evt.CgroupId != node.CgroupId;
        if (info.Uid == evt.Uid && info.Euid == evt.Euid && info.Gid == evt.Gid &&
            info.MountNamespace == mnt && info.PidNamespace == pidNs && !cgroupChanged)
            return info;

        var (cgroupPath, containerId) = cgroupChanged ? CgroupOf(evt.CgroupId, info.Pid) : (info.CgroupPath, info.ContainerId);
        node.Info = info with
        {
            Uid = evt.Uid, Euid = evt.Euid, Gid = evt.Gid, MountNamespace = mnt, PidNamespace = pidNs,
            CgroupPath = cgroupPath, ContainerId = containerId,
        };
        node.CgroupId = evt.CgroupId != 0 ? evt.CgroupId : node.CgroupId;
        return node.Info;
    }

    private void ApplyFork(in ProcTreeRecord r, ulong start)
    {
        var (pid, ppid, parentStart) = ((int)r.Pid, (int)r.Ppid, r.ParentStartNs);
        var (cgroupPath, containerId) = CgroupOf(r.CgroupId, pid);
        lock (_lock)
        {
            _forks++;
            var parent = FindEntity(ppid, parentStart);
            // A child runs its parent's image until it execs.
            var info = new ProcessInfo
            {
                Pid = pid,
                StartTimeNs = start,
                ParentPid = ppid,
                ParentStartTimeNs = parentStart,
                Comm = _strings.GetUtf8(r.CommBytes),
                ExePath = parent?.Info.ExePath ?? "",
                Args = parent?.Info.Args ?? [],
                IsSetuid = parent?.Info.IsSetuid ?? false,
                Uid = r.Uid, Euid = r.Euid, Gid = r.Gid,
                MountNamespace = r.MntNs, PidNamespace = r.PidNs,
                CgroupPath = cgroupPath, ContainerId = containerId,
            };
            Upsert(info, r.CgroupId);
        }
    }

    private void ApplyExec(in ProcTreeRecord r, ulong start)
    {
        var pid = (int)r.Pid;
        var (cgroupPath, containerId) = CgroupOf(r.CgroupId, pid);
        var args = ProcFs.SplitArgs(r.ArgsBytes, Options.MaxArgs);
        lock (_lock)
        {
            _execs++;
            var existing = FindEntity(pid, start);
            var info = new ProcessInfo
            {
                Pid = pid,
                StartTimeNs = start,
                ParentPid = existing?.Info.ParentPid ?? (int)r.Ppid,
                ParentStartTimeNs = existing?.Info.ParentStartTimeNs ?? r.ParentStartNs,
                Comm = _strings.GetUtf8(r.CommBytes),
                ExePath = _strings.GetUtf8(r.FilenameBytes),
                Args = args,
                Uid = r.Uid, Euid = r.Euid, Gid = r.Gid,
                IsSetuid = (r.Flags & (uint)ProcTreeHeader.ProcFlags.SetuidExe) != 0,
                MountNamespace = r.MntNs, PidNamespace = r.PidNs,
                CgroupPath = cgroupPath, ContainerId = containerId,
            };
            Upsert(info, r.CgroupId);
        }
    }

    /// <summary>The path and container of a cgroup id: cached, else read once from the process's /proc entry.</summary>
    private (string Path, string ContainerId) CgroupOf(ulong cgroupId, int pid)
    {
        if (cgroupId == 0) return ("", "");
        if (_containers.TryGet(cgroupId, out var path, out var id)) return (path, id);
        path = _procFs.ReadCgroupPath(pid);
        if (path.Length == 0) return ("", "");
        id = _containers.ContainerIdOf(path);
        _containers.Add(cgroupId, path, id);
        return (path, id);
    }

    private ProcessInfo? ResolveFromProc(int pid, ulong atNs, ulong expectedStart)
    {
        if (!TakeProcToken()) return null;
        if (_procFs.TryRead(pid, _strings, _containers) is not { } info) return null;
        if (expectedStart != 0 && !BootClock.SameStart(info.StartTimeNs, expectedStart)) return null;
        // Started after the event: the pid has been reused since, and the caller is gone.
        if (atNs != 0 && info.StartTimeNs > atNs) return null;
        lock (_lock)
        {
            var node = FindEntity(pid, info.StartTimeNs) ?? Upsert(info, cgroupId: 0);
            Touch(node);
            return node.Info;
        }
    }

    private bool TakeProcToken()
    {
        lock (_lock)
        {
            var now = Environment.TickCount64;
            if (now - _procWindowStartMs >= 1000)
            {
                _procWindowStartMs = now;
                _procWindowCount = 0;
            }
            if (_procWindowCount >= Options.MaxProcLookupsPerSecond)
            {
                _procRefused++;
                return false;
            }
            _procWindowCount++;
            _procLookups++;
            return true;
        }
    }

    // ---- under _lock ----

    private Node? FindEntity(int pid, ulong start)
    {
        for (var node = _byPid.GetValueOrDefault(pid); node is not null; node = node.Older)
            if (BootClock.SameStart(node.Info.StartTimeNs, start)) return node;
        return null;
    }

    /// <summary>The incarnation of <paramref name="pid"/> that was alive at <paramref name="atNs"/>, if the tree knows it.</summary>
    private Node? FindAt(int pid, ulong atNs)
    {
        for (var node = _byPid.GetValueOrDefault(pid); node is not null; node = node.Older)
        {
            if (atNs == 0) return node.Exited ? null : node;
            if (node.Info.StartTimeNs > atNs) continue; // a later process that reused the pid
            // The newest one that started before the event had already exited: someone we have not seen holds the pid.
            return node.Exited && node.ExitNs + ExitSlackNs < atNs ? null : node;
        }
        return null;
    }

    private Node Upsert(ProcessInfo info, ulong cgroupId)
    {
        if (FindEntity(info.Pid, info.StartTimeNs) is { } same)
        {
            // One identity for life: a /proc-seeded process keeps its tick-resolution start after a probe record.
            if (info.StartTimeNs != same.Info.StartTimeNs) info = info with { StartTimeNs = same.Info.StartTimeNs };
            same.Info = same.Exited ? info with { Exited = true } : info;
            if (cgroupId != 0) same.CgroupId = cgroupId;
            Touch(same);
            return same;
        }

        var node = new Node(info, cgroupId);
        if (_byPid.TryGetValue(info.Pid, out var head) && head.Info.StartTimeNs > info.StartTimeNs)
        {
            // An older incarnation reported late (e.g. read from /proc): keep the chain newest first.
            var after = head;
            while (after.Older is { } older && older.Info.StartTimeNs > info.StartTimeNs) after = older;
            node.Older = after.Older;
            after.Older = node;
        }
        else
        {
            // A new process has the pid, so any earlier holder is gone even if we missed its exit.
            if (head is not null && !head.Exited) MarkExited(head, info.StartTimeNs);
            node.Older = head;
            _byPid[info.Pid] = node;
        }
        if (info.Exited)
        {
            node.ExitNs = Math.Max(info.StartTimeNs, 1);
            _exited.AddLast(node);
        }
        else
        {
            _live.AddFirst(node);
        }
        _count++;
        EnforceCapacity(node);
        return node;
    }

    private void MarkExited(Node node, ulong exitNs)
    {
        if (node.Exited) return;
        node.ExitNs = Math.Max(exitNs, 1);
        node.Info = node.Info with { Exited = true };
        _live.Remove(node);
        _exited.AddLast(node);
    }

    private void Touch(Node node)
    {
        if (!node.Exited) _live.MoveToFront(node);
    }

    private void EnforceCapacity(Node keep)
    {
        while (_count > Options.Capacity)
        {
            var victim = _exited.Head ?? _live.Tail;
            if (victim is null || victim == keep) break;
            Remove(victim);
            _evicted++;
        }
    }

    private void Remove(Node node)
    {
        (node.Exited ? _exited : _live).Remove(node);
        var pid = node.Info.Pid;
        if (_byPid.TryGetValue(pid, out var head))
        {
            if (head == node)
            {
                if (node.Older is { } older) _byPid[pid] = older;
                else _byPid.Remove(pid);
            }
            else
            {
                var prev = head;
                while (prev.Older is { } o && o != node) prev = o;
                if (prev.Older == node) prev.Older = node.Older;
            }
        }
        node.Older = null;
        _count--;
    }

    private sealed class Node(ProcessInfo info, ulong cgroupId)
    {
        public ProcessInfo Info = info;
        public ulong CgroupId = cgroupId;
        public ulong ExitNs;
        /// <summary>The previous holder of the same pid, still in its grace period.</summary>
        public Node? Older;
        public Node? Prev, Next;
        /// <summary>The parent is known to be gone from the tree and /proc: ancestry stops here.</summary>
        public bool ParentGone;
        public bool Exited => ExitNs != 0;
    }

    /// <summary>An intrusive doubly linked list: O(1) add, remove and move-to-front without allocating.</summary>
    private sealed class NodeList
    {
        public Node? Head, Tail;
        public int Count;

        public void AddFirst(Node node)
        {
            node.Prev = null;
            node.Next = Head;
            if (Head is not null) Head.Prev = node; else Tail = node;
            Head = node;
            Count++;
        }

        public void AddLast(Node node)
        {
            node.Next = null;
            node.Prev = Tail;
            if (Tail is not null) Tail.Next = node; else Head = node;
            Tail = node;
            Count++;
        }

        public void Remove(Node node)
        {
            if (node.Prev is not null) node.Prev.Next = node.Next; else Head = node.Next;
            if (node.Next is not null) node.Next.Prev = node.Prev; else Tail = node.Prev;
            node.Prev = node.Next = null;
            Count--;
        }

        public void MoveToFront(Node node)
        {
            if (Head == node) return;
            Remove(node);
            AddFirst(node);
        }
    }
}
