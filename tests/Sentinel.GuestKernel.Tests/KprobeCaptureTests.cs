using Sentinel.Events;
using Sentinel.TestSupport;
using Xunit.Abstractions;

namespace Sentinel.GuestKernel.Tests;

/// <summary>
/// The kprobe capture strategy, live on Debian's stock kernel in the guest: the project's move_pages.bpf.o
/// with only its kprobe/kretprobe programs loaded, real calls from the project's helpers (static builds of
/// move_pages64 and move_pages32), and the raw records decoded here by the project's decoder. The values
/// asserted are those the tracepoint strategy's live tests assert on this machine.
/// </summary>
[Collection("guest")]
public sealed class KprobeCaptureTests(GuestBoot guest, ITestOutputHelper output)
{
    private const int PageSize = 4096, InitPid = 1, Nobody = 65534;
    private GuestReport Report => guest.Report;

    [GuestFact]
    public void The_guest_runs_debians_stock_kernel_locked_down_and_reports_no_errors()
    {
        output.WriteLine($"guest boot and scenarios: {guest.Run.Elapsed.TotalSeconds:0.0} s; image cached: {guest.Image.WasCached}");
        Assert.StartsWith("6.1.", Report.Single("kernel"));
        // Locked down as under Secure Boot: kprobes and BPF LSM must work even so.
        Assert.Equal("none [integrity] confidentiality", Report.Single("lockdown"));
        Assert.True(Report.All("error").Count == 0, Report.GuestErrors());
    }

    [GuestFact]
    public void Only_the_kprobe_strategy_is_loaded_and_all_four_probes_attach()
    {
        var loaded = Report.All("prog").Where(p => p.EndsWith(" loaded")).Select(p => p.Split(' ')[1]).Order();
        Assert.Equal(
            ["kprobe/__ia32_sys_move_pages", "kprobe/__x64_sys_move_pages", "kretprobe/__ia32_sys_move_pages", "kretprobe/__x64_sys_move_pages"],
            loaded);
        Assert.All(Report.All("prog").Where(p => !p.EndsWith(" loaded")), p => Assert.EndsWith(" off", p));
        Assert.Equal(4, Report.All("attach").Count);
        Assert.All(Report.All("attach"), a => Assert.EndsWith(" ok", a));
        Assert.Equal("kprobe", Report.Single("strategy"));
        // The kernel's own list of registered probes: an entry and a return probe on each syscall entry point.
        var registered = Report.All("kprobe").Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..3])).Order();
        Assert.Equal(["k __ia32_sys_move_pages+0x0", "k __x64_sys_move_pages+0x0", "r __ia32_sys_move_pages+0x0", "r __x64_sys_move_pages+0x0"], registered);
    }

    [GuestFact]
    public void The_other_strategies_pass_this_kernels_verifier_too()
    {
        Assert.True(Report.Has("verify", "tracepoint ok"), string.Join(" | ", Report.All("verify")) + Report.GuestErrors());
        Assert.True(Report.Has("verify", "raw_tracepoint ok"), string.Join(" | ", Report.All("verify")) + Report.GuestErrors());
    }

    [GuestFact]
    public void Self_query_mode_captures_the_pages_and_the_nodes_the_kernel_reported()
    {
        var call = Report.Calls["self_query"].Single();
        var evt = Report.EventOf(call.Pid, "self query");

        Assert.Equal(0, call.Ret);
        Assert.Equal((call.Pid, 0, 3UL, 0), (evt.Pid, evt.TargetPid, evt.Count, evt.Flags));
        Assert.Equal(call.Pid, evt.Tid);
        Assert.Equal(InitPid, evt.Ppid);
        Assert.Equal(0UL, evt.NodesAddress);
        Assert.True(evt.IsQueryMode);
        Assert.Equal(call.PagesAddress, evt.PagesAddress);
        var pages = evt.PagesAtEntry.ToArray();
        Assert.Equal(3, pages.Length);
        Assert.Equal([pages[0] + PageSize, pages[0] + 2 * PageSize], pages[1..]);
        Assert.Equal(pages, evt.PagesAtExit.ToArray());
        Assert.Equal(call.Status, evt.Status.ToArray());
        Assert.All(evt.Status.ToArray(), node => Assert.True(node >= 0, "resident pages report a node"));
        Assert.True(evt.NodesAtEntry.IsEmpty);
        Assert.Equal(0, evt.ReturnValue);
        Assert.False(evt.Compat);
        Assert.False(evt.HasToctouEvidence);
        Assert.Equal(AttachStrategy.Kprobe, evt.Strategy);
        Assert.Equal("move_pages64", evt.Comm);
        Assert.NotEqual(0UL, evt.MountNamespace);
        Assert.NotEqual(0UL, evt.PidNamespace);
        Assert.Equal(0u, evt.Uid);
    }

    [GuestFact]
    public void A_move_to_node_one_carries_the_nodes_and_the_flags_and_really_moves_the_pages()
    {
        var call = Report.Calls["move_to_node1"].Single();
        var evt = Report.EventOf(call.Pid, "move to node 1");

        Assert.Equal(0, call.Ret);
        Assert.Equal((int)MoveFlags.Move, evt.Flags);
        Assert.True(evt.HasFlag(MoveFlags.Move));
        Assert.NotEqual(0UL, evt.NodesAddress);
        Assert.Equal([1, 1], evt.NodesAtEntry.ToArray());
        Assert.Equal([1, 1], evt.NodesAtExit.ToArray());
        // The guest has two NUMA nodes: status 1 is the kernel saying the pages now live on node 1.
        Assert.Equal([1, 1], call.Status);
        Assert.Equal(call.Status, evt.Status.ToArray());
        Assert.Equal(0, evt.ReturnValue);
    }

    [GuestFact]
    public void A_cross_process_call_names_both_the_caller_and_the_target()
    {
        var victim = int.Parse(Report.Single("victim"));
        var call = Report.Calls["cross_process"].Single();
        var evt = Report.EventOf(call.Pid, "cross-process call");

        Assert.Equal(call.Pid, evt.Tid);
        Assert.Equal(InitPid, evt.Ppid);
        Assert.Equal(victim, evt.TargetPid);
        Assert.False(evt.IsSelf);
        Assert.Equal(call.Ret, evt.ReturnValue);
        Assert.Equal("move_pages64", evt.Comm);
        // The helper's addresses mean nothing in the victim: the kernel says so per page.
        Assert.Equal(call.Status, evt.Status.ToArray());
        Assert.All(evt.Status.ToArray(), s => Assert.True(s is -Errno.ENOENT or -Errno.EFAULT, $"status {s}"));
    }

    [GuestFact]
    public void Move_all_without_cap_sys_nice_returns_eperm()
    {
        var call = Report.Calls["move_all_nobody"].Single();
        var evt = Report.EventOf(call.Pid, "MOVE_ALL by nobody");

        Assert.Equal(Errno.EPERM, call.Errno);
        Assert.Equal(-Errno.EPERM, evt.ReturnValue);
        Assert.Equal("EPERM", evt.ErrnoName);
        Assert.True(evt.HasFlag(MoveFlags.MoveAll));
        Assert.Equal((65534u, 65534u, 65534u), (evt.Uid, evt.Euid, evt.Gid));
        Assert.False(evt.HasCapability(Capability.SysNice));
    }

    [GuestFact]
    public void Invalid_flags_return_einval()
    {
        var call = Report.Calls["invalid_flags"].Single();
        var evt = Report.EventOf(call.Pid, "invalid flags");

        Assert.Equal(Errno.EINVAL, call.Errno);
        Assert.Equal(-Errno.EINVAL, evt.ReturnValue);
        Assert.Equal(8, evt.Flags);
        Assert.Equal("EINVAL", evt.ErrnoName);
    }

    [GuestFact]
    public void An_unknown_pid_returns_esrch()
    {
        var call = Report.Calls["unknown_pid"].Single();
        var evt = Report.EventOf(call.Pid, "unknown pid");

        Assert.Equal(Errno.ESRCH, call.Errno);
        Assert.Equal(0x3ffffff0, evt.TargetPid);
        Assert.Equal(call.PagesAddress, evt.PagesAddress);
        Assert.Equal(-Errno.ESRCH, evt.ReturnValue);
        Assert.Equal("ESRCH", evt.ErrnoName);
    }

    [GuestFact]
    public void A_32_bit_call_is_captured_with_the_compat_flag()
    {
        var call = Report.Calls["compat_query"].Single();
        var evt = Report.EventOf(call.Pid, "32-bit call");

        CapturedCallAssertions.IsCompatQueryOfThreePages(call, evt);
        Assert.Equal(1UL, Report.Counter("compat"));
    }

    [GuestFact]
    public void Kernel_counters_account_for_every_call_and_lose_none()
    {
        var calls = Report.Calls.Values.Sum(c => c.Count);
        var captured = Report.Records.Count(r => Report.Calls.ContainsKey(r.Scenario));

        Assert.Equal(7, calls);
        Assert.Equal((ulong)calls, Report.Counter("submitted"));
        Assert.Equal(calls, captured);
        Assert.Equal(0UL, Report.Counter("lost"));
        Assert.Equal(0UL, Report.Counter("no_entry"));
    }
}
