using Sentinel.ProcessTree;
using static Sentinel.ProcessTree.ProcTreeHeader;
using static Sentinel.ProcessTree.Tests.TestTrees;

namespace Sentinel.ProcessTree.Tests;

public class ProcessTreeTests
{
    [Fact]
    public void Lru_bound_holds_and_the_least_recently_used_live_process_goes_first()
    {
        var tree = Create(capacity: 16);
        for (var pid = 100; pid < 116; pid++) tree.Add(Proc(pid, 1));
        Assert.NotNull(tree.Resolve(100, 0)); // touch the oldest: now the most recently used

        for (var pid = 200; pid < 215; pid++) tree.Add(Proc(pid, 2));

        Assert.Equal(16, tree.Count);
        Assert.NotNull(tree.Find(100));
        for (var pid = 101; pid < 116; pid++) Assert.Null(tree.Find(pid));

        for (var pid = 300; pid < 400; pid++) tree.Add(Proc(pid, 3));
        Assert.Equal(16, tree.Count);
        Assert.Equal(115, tree.Stats.Evicted);
        Assert.NotNull(tree.Find(399));
    }

    [Fact]
    public void Exited_processes_are_evicted_before_live_ones()
    {
        var tree = Create(capacity: 16);
        for (var pid = 100; pid < 110; pid++) tree.Add(Proc(pid, 1)); // 10 long-lived processes
        for (var i = 0; i < 5_000; i++)
        {
            // A fork storm: each child lives and dies.
            var pid = 1000 + i;
            tree.Add(Proc(pid, 2));
            tree.MarkExited(pid, 2 * Sec, 3 * Sec);
        }

        Assert.True(tree.Count <= 16);
        for (var pid = 100; pid < 110; pid++) Assert.NotNull(tree.Find(pid));
    }

    [Fact]
    public void Exited_processes_are_pruned_after_the_grace_period()
    {
        var tree = Create(grace: TimeSpan.FromSeconds(5));
        tree.Add(Proc(100, 1));
        tree.Add(Proc(101, 1));
        tree.MarkExited(100, 1 * Sec, 10 * Sec);

        Assert.Equal(0, tree.Prune(14 * Sec));
        Assert.True(tree.Find(100)!.Exited); // still resolvable for late events
        Assert.Equal(1, tree.Prune(15 * Sec));
        Assert.Null(tree.Find(100));
        Assert.NotNull(tree.Find(101));
    }

    [Fact]
    public void Pid_reuse_gives_a_new_identity_and_each_event_gets_the_process_of_its_time()
    {
        var tree = Create();
        var old = Proc(500, 10, comm: "victim");
        tree.Add(old);
        tree.MarkExited(500, 10 * Sec, 20 * Sec);
        var reused = Proc(500, 30, comm: "newcomer", uid: 0, euid: 0);
        tree.Add(reused);

        Assert.NotEqual(old.EntityId, reused.EntityId);
        Assert.Equal("victim", tree.Resolve(500, 15 * Sec)!.Comm);   // an event from before the exit, processed late
        Assert.Equal("newcomer", tree.Resolve(500, 31 * Sec)!.Comm);
        Assert.Equal("newcomer", tree.Resolve(500, 0)!.Comm);
        Assert.Equal(10 * Sec, tree.Find(500, 10 * Sec)!.StartTimeNs);
    }

    [Fact]
    public void An_exited_process_is_not_attributed_to_a_later_event_for_its_pid()
    {
        var tree = Create();
        tree.Add(Proc(500, 10, comm: "old"));
        tree.MarkExited(500, 10 * Sec, 20 * Sec);

        // Someone we have not seen holds pid 500 at t=25 (and the fake /proc has no entry): unknown, not "old".
        Assert.Null(tree.Resolve(500, 25 * Sec));
        var evt = Event(Proc(500, 24, comm: "unseen"), targetPid: 0, atSec: 25);
        new ProcessTreeEnricher(tree).Enrich(evt);
        Assert.Null(evt.Enrichment.Caller);
        Assert.False(evt.Enrichment.Enriched);
    }

    [Fact]
    public void A_new_incarnation_retires_the_old_one_even_if_its_exit_was_missed()
    {
        var tree = Create();
        tree.Apply(Record(ProcKind.Fork, 700, 10 * Sec, comm: "first", timeNs: 10 * Sec));
        tree.Apply(Record(ProcKind.Fork, 700, 40 * Sec, comm: "second", timeNs: 40 * Sec)); // no exit record for "first"

        Assert.Equal("second", tree.Resolve(700, 41 * Sec)!.Comm);
        Assert.True(tree.Find(700, 10 * Sec)!.Exited);
        Assert.Equal(1, tree.Stats.Live);
    }

    [Fact]
    public void Fork_inherits_the_parent_image_and_exec_replaces_it()
    {
        var tree = Create();
        tree.Add(Proc(1, 1, comm: "init"));
        tree.Add(Proc(50, 2, comm: "bash", ppid: 1, parentStartSec: 1) with { Args = ["bash", "-l"] });

        var start = 5 * Sec + 1234; // the probe's ns
        tree.Apply(Record(ProcKind.Fork, 60, start, ppid: 50, parentStartNs: 2 * Sec + 999, comm: "bash"));
        var forked = tree.Find(60)!;
        Assert.Equal("/usr/bin/bash", forked.ExePath);
        Assert.Equal(["bash", "-l"], forked.Args);
        Assert.Equal(50, forked.ParentPid);
        Assert.Equal(2 * Sec + 999, forked.ParentStartTimeNs); // the seeded parent (2 s, from /proc) matched by tick
        Assert.Equal(start, forked.StartTimeNs);

        tree.Apply(Record(ProcKind.Exec, 60, start, ppid: 50, parentStartNs: 2 * Sec, comm: "passwd",
            file: "/usr/bin/passwd", args: "passwd\0--status\0", uid: 1000, flags: ProcFlags.SetuidExe));
        var execed = tree.Find(60)!;
        Assert.Equal(forked.EntityId, execed.EntityId);
        Assert.Equal("passwd", execed.Comm);
        Assert.Equal("/usr/bin/passwd", execed.ExePath);
        Assert.Equal(["passwd", "--status"], execed.Args);
        Assert.True(execed.IsSetuid);
        Assert.False(forked.IsSetuid); // snapshots are immutable: an event that held the fork-time one keeps it

        tree.Apply(Record(ProcKind.Exit, 60, start, ppid: 50, timeNs: 9 * Sec));
        Assert.True(tree.Find(60)!.Exited);
    }

    [Fact]
    public void Two_processes_reusing_a_pid_within_one_clock_tick_stay_apart()
    {
        var tree = Create();
        tree.Apply(Record(ProcKind.Fork, 800, 7 * Sec + 1_000, comm: "first", timeNs: 7 * Sec + 1_000));
        tree.Apply(Record(ProcKind.Exit, 800, 7 * Sec + 1_000, timeNs: 7 * Sec + 2_000));
        tree.Apply(Record(ProcKind.Fork, 800, 7 * Sec + 3_000, comm: "second", timeNs: 7 * Sec + 3_000));

        Assert.Equal("second", tree.Resolve(800, 7 * Sec + 4_000)!.Comm);
        Assert.Equal("first", tree.Resolve(800, 7 * Sec + 1_500)!.Comm);
        Assert.NotEqual(tree.Find(800, 7 * Sec + 1_000)!.EntityId, tree.Find(800, 7 * Sec + 3_000)!.EntityId);
    }

    [Fact]
    public void A_seeded_process_keeps_its_identity_when_the_probes_report_it()
    {
        var tree = Create();
        tree.Add(Proc(900, 7, comm: "seeded")); // /proc: whole ticks
        tree.Apply(Record(ProcKind.Exec, 900, 7 * Sec + 4_321, comm: "execed", file: "/bin/execed"));

        var info = tree.Find(900)!;
        Assert.Equal("execed", info.Comm);
        Assert.Equal(7 * Sec, info.StartTimeNs);
        Assert.Equal(1, tree.Count);
        tree.Apply(Record(ProcKind.Exit, 900, 7 * Sec + 4_321, timeNs: 8 * Sec));
        Assert.True(tree.Find(900)!.Exited);
    }

    [Fact]
    public void Malformed_records_are_rejected()
    {
        var record = Record(ProcKind.Fork, 1, 1);
        var bytes = new byte[System.Runtime.CompilerServices.Unsafe.SizeOf<ProcTreeRecord>()];
        System.Runtime.InteropServices.MemoryMarshal.Write(bytes, in record);
        Assert.True(ProcTreeRecord.TryRead(bytes, out _));
        Assert.False(ProcTreeRecord.TryRead(bytes.AsSpan(0, 40), out _));
        bytes[0] ^= 0xff;
        Assert.False(ProcTreeRecord.TryRead(bytes, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2_000)]
    public void A_feeder_interval_outside_1ms_to_1s_is_refused(int milliseconds)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            new ProcessTree(new ProcessTreeOptions { FeederInterval = TimeSpan.FromMilliseconds(milliseconds) }));
        Assert.Equal(nameof(ProcessTreeOptions.FeederInterval), error.ParamName);
    }
}
