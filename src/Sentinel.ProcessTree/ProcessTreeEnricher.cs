using Sentinel.Events;

namespace Sentinel.ProcessTree;

/// <summary>
/// Fills <see cref="MovePagesEvent.Enrichment"/> from the process tree: the caller and its ancestry, the target
/// named by the pid argument, and the cross-process/user/container and host-namespace flags. In steady state it
/// allocates nothing: it hands out the tree's immutable snapshots and reuses the event's ancestry list.
/// With a <paramref name="feed"/> (the live probes), each event first gets the records written before it.
/// </summary>
public sealed class ProcessTreeEnricher(ProcessTree tree, IProcessTreeFeed? feed = null) : IEventEnricher
{
    public ProcessTree Tree { get; } = tree;

    public void Enrich(MovePagesEvent evt)
    {
        var e = evt.Enrichment;
        e.Reset();
        var at = BootClock.FromUnixNs(evt.TimeUnixNs);
        feed?.ApplyUpTo(at);
        var depth = Tree.Options.AncestryDepth;
        var targetPid = evt.IsSelf ? 0 : TargetInHostPids(evt);

        var missing = Tree.EnrichFromTree(evt, at, depth, targetPid);
        if (missing != ProcessTree.Missing.None) FinishFromProc(evt, at, depth, targetPid, missing);

        var caller = e.Caller;
        e.IsCrossProcess = !evt.IsSelf;
        if (evt.IsSelf) e.Target = caller;

        // The caller's credentials are the kernel's at the call; the target's are the tree's.
        if (e.Target is { } target && !ReferenceEquals(target, caller))
        {
            e.IsCrossUser = target.Uid != evt.Uid || target.Euid != evt.Euid;
            e.IsCrossContainer = target.ContainerId != (caller?.ContainerId ?? "") ||
                                 (caller is not null && target.PidNamespace != caller.PidNamespace);
        }

        var mnt = evt.MountNamespace != 0 ? evt.MountNamespace : caller?.MountNamespace ?? 0;
        var pidNs = evt.PidNamespace != 0 ? evt.PidNamespace : caller?.PidNamespace ?? 0;
        e.CallerInHostNamespaces = mnt != 0 && mnt == Tree.HostMountNamespace && pidNs == Tree.HostPidNamespace;
        e.Enriched = caller is not null;
    }

    /// <summary>The slow path, for processes the probes have not reported (yet): /proc, rate-limited.</summary>
    private void FinishFromProc(MovePagesEvent evt, ulong at, int depth, int targetPid, ProcessTree.Missing missing)
    {
        var e = evt.Enrichment;
        if ((missing & ProcessTree.Missing.Caller) != 0 && Tree.Resolve(evt.Pid, at) is { } found)
            e.Caller = Tree.RefreshFromEvent(found, evt);
        if ((missing & ProcessTree.Missing.Ancestry) != 0)
        {
            for (var p = e.Ancestry.Count > 0 ? e.Ancestry[^1] : e.Caller; p is not null && e.AncestryBuffer.Count < depth;)
            {
                p = Tree.ResolveParent(p);
                if (p is not null) e.AncestryBuffer.Add(p);
            }
        }
        if ((missing & ProcessTree.Missing.Target) != 0) e.Target = Tree.Resolve(targetPid, at);
    }

    /// <summary>
    /// The pid argument is a number in the caller's pid namespace; the tree is keyed by host pids. Inside another
    /// pid namespace we cannot map it without the caller's view, so we do not guess (0: no target).
    /// </summary>
    private int TargetInHostPids(MovePagesEvent evt)
    {
        var callerPidNs = evt.PidNamespace;
        return Tree.HostPidNamespace != 0 && callerPidNs != 0 && callerPidNs != Tree.HostPidNamespace ? 0 : evt.TargetPid;
    }
}
