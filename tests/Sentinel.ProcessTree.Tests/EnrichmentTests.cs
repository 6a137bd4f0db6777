using Sentinel.Events;
using Sentinel.ProcessTree;
using static Sentinel.ProcessTree.Tests.TestTrees;

namespace Sentinel.ProcessTree.Tests;

public class EnrichmentTests
{
    private const string ContainerA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    private readonly ProcessTree _tree = Create(depth: 3);
    private readonly ProcessTreeEnricher _enricher;
    private readonly ProcessInfo _init = Proc(1, 1, comm: "systemd", uid: 0, euid: 0);
    private readonly ProcessInfo _sshd = Proc(400, 2, comm: "sshd", ppid: 1, parentStartSec: 1, uid: 0, euid: 0);
    private readonly ProcessInfo _bash = Proc(500, 3, comm: "bash", ppid: 400, parentStartSec: 2);
    private readonly ProcessInfo _attacker = Proc(600, 4, comm: "probe", ppid: 500, parentStartSec: 3);
    private readonly ProcessInfo _rootDaemon = Proc(700, 2, comm: "dbd", ppid: 1, parentStartSec: 1, uid: 0, euid: 0);
    private readonly ProcessInfo _sameUser = Proc(800, 4, comm: "editor", ppid: 500, parentStartSec: 3);
    private readonly ProcessInfo _setuid = Proc(900, 4, comm: "passwd", ppid: 500, parentStartSec: 3, uid: 1000, euid: 0, setuid: true);
    private readonly ProcessInfo _contained = Proc(1000, 4, comm: "nginx", ppid: 1, parentStartSec: 1, uid: 0, euid: 0,
        container: ContainerA, mnt: 111, pidNs: 222);

    public EnrichmentTests()
    {
        foreach (var p in new[] { _init, _sshd, _bash, _attacker, _rootDaemon, _sameUser, _setuid, _contained }) _tree.Add(p);
        _enricher = new ProcessTreeEnricher(_tree);
    }

    private EventEnrichment Enrich(MovePagesEvent evt)
    {
        _enricher.Enrich(evt);
        return evt.Enrichment;
    }

    [Fact]
    public void Self_call_is_not_cross_anything_and_carries_the_ancestry_to_the_configured_depth()
    {
        var e = Enrich(Event(_attacker, targetPid: 0, atSec: 10));

        Assert.True(e.Enriched);
        Assert.Same(_attacker, e.Caller);
        Assert.Same(_attacker, e.Target);
        Assert.Equal(["bash", "sshd", "systemd"], e.Ancestry.Select(p => p.Comm));
        Assert.False(e.IsCrossProcess);
        Assert.False(e.IsCrossUser);
        Assert.False(e.IsCrossContainer);
        Assert.True(e.CallerInHostNamespaces);
    }

    [Fact]
    public void Ancestry_stops_at_the_configured_depth()
    {
        var tree = Create(depth: 1);
        foreach (var p in new[] { _init, _sshd, _bash, _attacker }) tree.Add(p);
        var evt = Event(_attacker, 0, 10);
        new ProcessTreeEnricher(tree).Enrich(evt);
        Assert.Equal(["bash"], evt.Enrichment.Ancestry.Select(p => p.Comm));
    }

    [Fact]
    public void Other_user_target_is_cross_process_and_cross_user()
    {
        var e = Enrich(Event(_attacker, targetPid: 700, atSec: 10));
        Assert.Same(_rootDaemon, e.Target);
        Assert.True(e.IsCrossProcess);
        Assert.True(e.IsCrossUser);
        Assert.False(e.IsCrossContainer);
    }

    [Fact]
    public void Same_user_target_is_cross_process_only()
    {
        var e = Enrich(Event(_attacker, targetPid: 800, atSec: 10));
        Assert.Same(_sameUser, e.Target);
        Assert.True(e.IsCrossProcess);
        Assert.False(e.IsCrossUser);
    }

    [Fact]
    public void Setuid_target_run_by_the_same_user_is_cross_user()
    {
        var e = Enrich(Event(_attacker, targetPid: 900, atSec: 10));
        Assert.True(e.Target!.IsSetuid);
        Assert.True(e.IsCrossUser); // its euid is root's
    }

    [Fact]
    public void Host_caller_reaching_into_a_container_is_cross_container()
    {
        var e = Enrich(Event(_attacker, targetPid: 1000, atSec: 10));
        Assert.Equal(ContainerA, e.Target!.ContainerId);
        Assert.True(e.IsCrossContainer);
        Assert.True(e.CallerInHostNamespaces);
    }

    [Fact]
    public void Caller_in_a_container_is_not_in_the_host_namespaces_and_its_pid_argument_is_not_guessed()
    {
        var e = Enrich(Event(_contained, targetPid: 7, atSec: 10));
        Assert.Same(_contained, e.Caller);
        Assert.False(e.CallerInHostNamespaces);
        Assert.Equal(ContainerA, e.Caller!.ContainerId);
        Assert.True(e.IsCrossProcess);
        Assert.Null(e.Target); // pid 7 in the container's namespace is not host pid 7
    }

    [Fact]
    public void Credentials_at_the_call_win_over_the_snapshot_from_exec()
    {
        // The caller called setuid(65534) after its exec: the kernel's values are the truth.
        var evt = Event(_attacker with { Uid = 65534, Euid = 65534, Gid = 65534 }, targetPid: 0, atSec: 10);
        var e = Enrich(evt);
        Assert.Equal(65534u, e.Caller!.Uid);
        Assert.Equal(_attacker.EntityId, e.Caller.EntityId);
        Assert.Equal(65534u, _tree.Find(600)!.Euid); // the tree learned it too

        // unshare(CLONE_NEWNS) without exec: no longer in the host's namespaces.
        var moved = Enrich(Event(e.Caller, targetPid: 0, atSec: 11, mnt: 999));
        Assert.False(moved.CallerInHostNamespaces);
        Assert.Equal(999UL, moved.Caller!.MountNamespace);
    }

    [Fact]
    public void Unknown_caller_leaves_the_event_unenriched()
    {
        var e = Enrich(Event(Proc(4242, 5), targetPid: 0, atSec: 10));
        Assert.False(e.Enriched);
        Assert.Null(e.Caller);
        Assert.Empty(e.Ancestry);
    }

    [Fact]
    public void Reused_event_is_reset_before_enrichment()
    {
        var evt = Event(_attacker, targetPid: 700, atSec: 10);
        Enrich(evt);
        evt.Pid = 4242;
        evt.TargetPid = 0;
        var e = Enrich(evt);
        Assert.Null(e.Caller);
        Assert.Empty(e.Ancestry);
        Assert.False(e.IsCrossUser);
    }

    [Fact]
    public void A_parent_that_is_gone_for_good_is_looked_for_once_not_on_every_event()
    {
        var orphan = Proc(4300, 5, comm: "orphan", ppid: 4299, parentStartSec: 4); // its parent exited long ago
        _tree.Add(orphan);

        var first = Enrich(Event(orphan, 0, 10));
        Assert.Empty(first.Ancestry);
        var lookups = _tree.Stats.ProcLookups;
        Assert.Equal(1, lookups);

        for (var i = 0; i < 10; i++) Assert.Empty(Enrich(Event(orphan, 0, 10)).Ancestry);
        Assert.Equal(lookups, _tree.Stats.ProcLookups);
    }

    [Fact]
    public void Steady_state_enrichment_allocates_nothing()
    {
        var evt = Event(_attacker, targetPid: 700, atSec: 10);
        for (var i = 0; i < 100; i++) _enricher.Enrich(evt); // warm up (tiering, list capacity)

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++) _enricher.Enrich(evt);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(3, evt.Enrichment.Ancestry.Count);
    }
}
