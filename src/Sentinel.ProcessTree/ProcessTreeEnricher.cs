using Sentinel.Events;

namespace Sentinel.ProcessTree;

/// <summary>
/// Fills <see cref="MovePagesEvent.Enrichment"/> from the process tree: the caller and its ancestry, the target
/// named by the pid argument, and the cross-process/user/container and host-namespace flags. In steady state it
/// allocates nothing: it hands out the tree's immutable snapshots and reuses the event's ancestry list.
/// </summary>
public sealed class ProcessTreeEnricher(ProcessTree tree) : IEventEnricher
{
    public ProcessTree Tree { get; } = tree;

    public void Enrich(MovePagesEvent evt)
    {
        var e = evt.Enrichment;
        e.Reset();
        var at = BootClock.FromUnixNs(evt.TimeUnixNs);

        var caller = Tree.Resolve(evt.Pid, at);
        if (caller is not null) caller = Tree.RefreshFromEvent(caller, evt);
        e.Caller = caller;

        var depth = Tree.Options.AncestryDepth;
        for (var p = caller; p is not null && e.AncestryBuffer.Count < depth;)
        {
            p = Tree.ResolveParent(p);
            if (p is not null) e.AncestryBuffer.Add(p);
        }

        e.IsCrossProcess = !evt.IsSelf;
        e.Target = evt.IsSelf ? caller : ResolveTarget(evt, caller, at);

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

    private ProcessInfo? ResolveTarget(MovePagesEvent evt, ProcessInfo? caller, ulong at)
    {
        // The pid argument is a number in the caller's pid namespace; the tree is keyed by host pids. Inside
        // another pid namespace we cannot map it without the caller's view, so we do not guess.
        var callerPidNs = evt.PidNamespace != 0 ? evt.PidNamespace : caller?.PidNamespace ?? 0;
        if (Tree.HostPidNamespace != 0 && callerPidNs != 0 && callerPidNs != Tree.HostPidNamespace) return null;
        return Tree.Resolve(evt.TargetPid, at);
    }
}
