using Sentinel.Events;

namespace Sentinel.GuestKernel.Tests;

/// <summary>
/// The deny response, live in the guest booted with lsm=...,bpf: bpf/movememory_lsm.bpf.o on the
/// task_movememory hook, a deny policy for uid 65534 installed as a map entry, and a victim running as
/// 65534 that owns two pages on node 0. The same move of a victim page to node 1 succeeds before the
/// policy and is refused after it; the victim's pages are queried (as root) before and after.
/// </summary>
[Collection("guest")]
public sealed class LsmDenyTests(GuestBoot guest)
{
    private const int NotWritten = 0x7f7f7f7f; // the status value the callers preset: the kernel never wrote it
    private GuestReport Report => guest.Report;

    [GuestFact]
    public void The_bpf_lsm_is_active_and_the_deny_program_attaches()
    {
        Assert.Contains("bpf", Report.Single("lsm").Split(','));
        Assert.Equal("ok", Report.Single("lsm-attach"));
        Assert.Equal("deny uid 65534", Report.Single("lsm-policy"));
    }

    [GuestFact]
    public void Without_a_policy_the_cross_process_move_succeeds()
    {
        Assert.Equal([0, 0], Report.LsmQueries["before"].Status);
        var allowed = Report.LsmCalls["allowed"];
        Assert.Equal((0L, 0), (allowed.Ret, allowed.Errno));
        Assert.Equal([1], allowed.Status);
    }

    [GuestFact]
    public void With_the_deny_policy_an_unprivileged_cross_process_move_gets_eperm_and_no_page_moves()
    {
        var denied = Report.LsmCalls["denied"];
        Assert.Equal((-1L, Errno.EPERM), (denied.Ret, denied.Errno));
        Assert.Equal([NotWritten], denied.Status);
        // First page moved by the allowed call, second page refused: still on node 0.
        Assert.Equal([1, 0], Report.LsmQueries["after"].Status);
    }

    [GuestFact]
    public void The_refused_call_is_captured_by_the_kprobes_with_its_eperm()
    {
        var victim = int.Parse(Report.Single("lsm-victim"));
        var denied = Report.LsmCalls["denied"];
        var evt = Report.EventOf(denied.Pid, "the refused call");

        Assert.Equal(-Errno.EPERM, evt.ReturnValue);
        Assert.Equal(victim, evt.TargetPid);
        Assert.Equal((65534u, 65534u), (evt.Uid, evt.Euid));
        Assert.Equal((int)MoveFlags.Move, evt.Flags);
        Assert.Equal([1], evt.NodesAtEntry.ToArray());
        Assert.Equal("lsm_caller", evt.Comm);
        Assert.Equal(AttachStrategy.Kprobe, evt.Strategy);
    }

    [GuestFact]
    public void The_hook_covers_a_process_naming_its_own_pid_but_never_a_pid_zero_call()
    {
        var byPid = Report.LsmCalls["self_by_pid"];
        Assert.Equal((-1L, Errno.EPERM), (byPid.Ret, byPid.Errno));

        // pid 0 skips the task lookup, and the LSM hook with it: the policy cannot refuse this call.
        var byZero = Report.LsmCalls["self_by_zero"];
        Assert.Equal((0L, 0), (byZero.Ret, byZero.Errno));
        Assert.Equal([1], byZero.Status);
        Assert.Equal([1, 1], Report.LsmQueries["after_self"].Status);
        Assert.Equal("2", Report.Single("lsm-denied"));
    }
}
