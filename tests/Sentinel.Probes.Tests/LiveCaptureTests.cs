using System.Diagnostics;
using Sentinel.Bpf;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.TestSupport;
using static Sentinel.TestSupport.MovePagesCalls;

namespace Sentinel.Probes.Tests;

/// <summary>
/// Real probes, real move_pages calls: from this process through syscall(2), and from helper processes
/// (another pid, another uid, the 32-bit ABI). Each test finds its own event by tid or pid and address.
/// </summary>
[Collection("live")]
public sealed unsafe class LiveCaptureTests : IClassFixture<LiveCaptureTests.Capture>
{
    public sealed class Capture : IDisposable
    {
        private readonly Lazy<LiveCapture> _live = new(() => new LiveCapture());
        internal LiveCapture Live => _live.Value;
        public void Dispose() { if (_live.IsValueCreated) _live.Value.Dispose(); }
    }

    private const int ENOENT = 2, EFAULT = 14;
    private readonly LiveCapture _live;

    public LiveCaptureTests(Capture capture) => _live = capture.Live;

    [LiveFact]
    public void Self_query_mode_captures_the_pages_and_the_nodes_the_kernel_reported()
    {
        var mem = MapTouched(3);
        var pages = stackalloc ulong[3];
        var status = stackalloc int[3] { -1, -1, -1 };
        for (var i = 0; i < 3; i++) pages[i] = (ulong)mem + (ulong)(i * PageSize);
        var tid = GetTid();

        var ret = MovePages(0, 3, pages, null, status, 0);

        var evt = _live.WaitFor(e => e.Tid == tid && e.PagesAddress == (ulong)pages, "self query");
        Assert.Equal(0, ret);
        Assert.Equal((Environment.ProcessId, 0, 3UL, 0), (evt.Pid, evt.TargetPid, evt.Count, evt.Flags));
        Assert.Equal(0UL, evt.NodesAddress);
        Assert.True(evt.IsQueryMode);
        Assert.Equal((ulong)status, evt.StatusAddress);
        Assert.Equal(new ReadOnlySpan<ulong>(pages, 3).ToArray(), evt.PagesAtEntry.ToArray());
        Assert.Equal(new ReadOnlySpan<ulong>(pages, 3).ToArray(), evt.PagesAtExit.ToArray());
        Assert.Equal(new ReadOnlySpan<int>(status, 3).ToArray(), evt.Status.ToArray());
        Assert.All(evt.Status.ToArray(), node => Assert.True(node >= 0, "resident pages report a node"));
        Assert.True(evt.NodesAtEntry.IsEmpty);
        Assert.Equal(0, evt.ReturnValue);
        Assert.False(evt.Compat);
        Assert.False(evt.HasToctouEvidence);
        Assert.Equal(AttachStrategy.Tracepoint, evt.Strategy);
        Assert.Equal(Process.GetCurrentProcess().Id, evt.Pid);
        Assert.NotEqual(0UL, evt.MountNamespace);
        Assert.NotEqual(0UL, evt.PidNamespace);
        Assert.False(string.IsNullOrEmpty(evt.Comm));
        Unmap(mem, 3);
    }

    [LiveFact]
    public void A_move_to_node_zero_carries_the_nodes_and_the_flags()
    {
        var mem = MapTouched(2);
        var pages = stackalloc ulong[2] { (ulong)mem, (ulong)mem + (ulong)PageSize };
        var nodes = stackalloc int[2] { 0, 0 };
        var status = stackalloc int[2] { -1, -1 };
        var tid = GetTid();

        var ret = MovePages(0, 2, pages, nodes, status, (int)MoveFlags.Move);

        var evt = _live.WaitFor(e => e.Tid == tid && e.PagesAddress == (ulong)pages, "move to node 0");
        Assert.Equal(0, ret);
        Assert.Equal((int)MoveFlags.Move, evt.Flags);
        Assert.True(evt.HasFlag(MoveFlags.Move));
        Assert.Equal((ulong)nodes, evt.NodesAddress);
        Assert.Equal([0, 0], evt.NodesAtEntry.ToArray());
        Assert.Equal([0, 0], evt.NodesAtExit.ToArray());
        Assert.Equal([0, 0], evt.Status.ToArray());
        Assert.Equal(new ReadOnlySpan<int>(status, 2).ToArray(), evt.Status.ToArray());
        Unmap(mem, 2);
    }

    [LiveFact]
    public void A_cross_process_call_names_both_the_caller_and_the_target()
    {
        using var victim = Process.Start(new ProcessStartInfo("sleep", "30"))!;
        try
        {
            var call = MovePagesHelper.Run("move_pages64", $"--pid {victim.Id} --query").Single();

            var evt = _live.WaitFor(e => e.Pid == call.Pid && e.TargetPid == victim.Id, "cross-process call");
            Assert.Equal(call.Pid, evt.Tid);
            Assert.Equal(Environment.ProcessId, evt.Ppid);
            Assert.Equal(victim.Id, evt.TargetPid);
            Assert.False(evt.IsSelf);
            Assert.Equal(call.Ret, evt.ReturnValue);
            Assert.Equal("move_pages64", evt.Comm);
            // The helper's addresses mean nothing in the victim: the kernel says so per page.
            Assert.Equal(call.Status, evt.Status.ToArray());
            Assert.All(evt.Status.ToArray(), s => Assert.True(s is -ENOENT or -EFAULT, $"status {s}"));
        }
        finally
        {
            victim.Kill();
        }
    }

    [LiveFact]
    public void Move_all_without_cap_sys_nice_returns_eperm()
    {
        var call = MovePagesHelper.Run("move_pages64", "--flags 4 --node 0",
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups").Single();

        var evt = _live.WaitFor(e => e.Pid == call.Pid, "MOVE_ALL by nobody");
        Assert.Equal(-Errno.EPERM, evt.ReturnValue);
        Assert.Equal("EPERM", evt.ErrnoName);
        Assert.True(evt.HasFlag(MoveFlags.MoveAll));
        Assert.Equal(65534u, evt.Uid);
        Assert.Equal(65534u, evt.Euid);
        Assert.False(evt.HasCapability(Capability.SysNice));
    }

    [LiveFact]
    public void Invalid_flags_return_einval()
    {
        var page = stackalloc ulong[1] { 0x1000 };
        var status = stackalloc int[1];
        var tid = GetTid();

        var ret = MovePages(0, 1, page, null, status, 8);

        var evt = _live.WaitFor(e => e.Tid == tid && e.PagesAddress == (ulong)page, "invalid flags");
        Assert.Equal(-Errno.EINVAL, ret);
        Assert.Equal(-Errno.EINVAL, evt.ReturnValue);
        Assert.Equal(8, evt.Flags);
        Assert.Equal("EINVAL", evt.ErrnoName);
    }

    [LiveFact]
    public void Event_times_are_the_kernel_boot_clock_readings_placed_on_the_wall_clock()
    {
        var page = stackalloc ulong[1] { 0x2000 };
        var status = stackalloc int[1];
        const int unknownPid = 0x3ffffff1;
        var wallBefore = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        var before = BootClock.NowNs;

        MovePages(unknownPid, 1, page, null, status, 0);

        var after = BootClock.NowNs;
        var wallAfter = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 + 1_000_000;
        var evt = _live.WaitFor(e => e.TargetPid == unknownPid && e.PagesAddress == (ulong)page, "timed call");
        // Back on the boot clock (the same single offset), entry and exit fall inside the window this thread
        // read around the call: exactly, with no tolerance.
        var exit = BootClock.FromUnixNs(evt.TimeUnixNs);
        Assert.InRange(exit - (ulong)evt.DurationNs, before, exit);
        Assert.InRange(exit, before, after);
        // On the wall clock, within what the clock may have been stepped since the offset was measured.
        Assert.InRange(evt.TimeUnixNs, wallBefore - 1_000_000_000, wallAfter + 1_000_000_000);
    }

    [LiveFact]
    public void An_unknown_pid_returns_esrch()
    {
        var page = stackalloc ulong[1] { 0x1000 };
        var status = stackalloc int[1];
        const int unknownPid = 0x3ffffff0;

        var ret = MovePages(unknownPid, 1, page, null, status, 0);

        var evt = _live.WaitFor(e => e.TargetPid == unknownPid && e.PagesAddress == (ulong)page, "unknown pid");
        Assert.Equal(-Errno.ESRCH, ret);
        Assert.Equal(-Errno.ESRCH, evt.ReturnValue);
        Assert.Equal("ESRCH", evt.ErrnoName);
    }

    [LiveFact]
    public void A_32_bit_call_is_captured_with_the_compat_flag()
    {
        var compatBefore = _live.Probe.Counters.Read(KernelCounter.CompatCalls);

        var call = MovePagesHelper.Run("move_pages32", "--pages 3 --query").Single();

        var evt = _live.WaitFor(e => e.Pid == call.Pid, "32-bit call");
        CapturedCallAssertions.IsCompatQueryOfThreePages(call, evt);
        Assert.True(_live.Probe.Counters.Read(KernelCounter.CompatCalls) > compatBefore);
    }

    [LiveFact]
    public void A_thread_rewriting_pages_during_the_call_leaves_toctou_evidence()
    {
        const int count = 4096;
        var mem = MapTouched(16);
        var pages = (ulong*)System.Runtime.InteropServices.NativeMemory.Alloc(count, sizeof(ulong));
        var status = (int*)System.Runtime.InteropServices.NativeMemory.Alloc(count, sizeof(int));
        ulong a = (ulong)mem, b = (ulong)mem + (ulong)PageSize;
        for (var i = 0; i < count; i++) pages[i] = (ulong)mem + (ulong)(i % 16 * PageSize);
        using var stop = new CancellationTokenSource();
        var writer = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                System.Threading.Volatile.Write(ref pages[0], a);
                System.Threading.Volatile.Write(ref pages[0], b);
            }
        });
        writer.Start();
        var tid = GetTid();
        MovePagesEvent? evidence = null;
        try
        {
            // Bounded by time, not attempts: on a loaded machine the writer may not run beside the call for a while.
            var deadline = System.Diagnostics.Stopwatch.StartNew();
            while (evidence is null && deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                MovePages(0, count, pages, null, status, 0);
                var evt = _live.WaitFor(e => e.Tid == tid && e.PagesAddress == (ulong)pages, "racing call");
                if (evt.HasToctouEvidence) evidence = evt.Clone();
            }
        }
        finally
        {
            stop.Cancel();
            writer.Join();
            System.Runtime.InteropServices.NativeMemory.Free(pages);
            System.Runtime.InteropServices.NativeMemory.Free(status);
        }

        Assert.NotNull(evidence);
        Assert.Equal(1u, evidence.PagesChangedMask);
        Assert.NotEqual(evidence.PagesAtEntry[0], evidence.PagesAtExit[0]);
        Assert.Contains(evidence.PagesAtEntry[0], new[] { a, b });
        Assert.Contains(evidence.PagesAtExit[0], new[] { a, b });
        Assert.Equal(MovePagesEvent.MaxCopied, evidence.CopiedCount);
        Unmap(mem, 16);
    }

    [LiveFact]
    public void Every_argument_of_a_live_event_carries_the_tags_of_the_design_table()
    {
        var page = stackalloc ulong[1] { 0x2000 };
        var status = stackalloc int[1];
        var tid = GetTid();
        MovePages(0, 1, page, null, status, 0);
        var evt = _live.WaitFor(e => e.Tid == tid && e.PagesAddress == (ulong)page, "tagged event");

        var proto = EventConverter.ToProto(evt);

        var expected = new Dictionary<string, (string Type, string[] Tags)>
        {
            ["pid"] = ("int32", ["K"]),
            ["count"] = ("uint64", ["K", "U"]),
            ["pages"] = ("const void**", ["U", "TOCTOU"]),
            ["nodes"] = ("const int*", ["U", "TOCTOU", "OPT"]),
            ["status"] = ("int*", ["U"]),
            ["flags"] = ("int32", ["K"]),
            ["return"] = ("int64", ["K"]),
        };
        Assert.Equal(expected.Keys, proto.Args.Select(a => a.Name));
        foreach (var arg in proto.Args)
        {
            Assert.Equal(expected[arg.Name].Type, arg.Type);
            Assert.Equal(expected[arg.Name].Tags, arg.Tags);
        }
        Assert.Equal((ulong)page, proto.Args.Single(a => a.Name == "pages").Pointer);
        Assert.Equal(0UL, proto.Args.Single(a => a.Name == "nodes").Pointer);
    }

    [LiveFact]
    public void Kernel_counters_account_for_submitted_events()
    {
        var before = _live.Probe.Counters.Read(KernelCounter.Submitted);
        var page = stackalloc ulong[1] { 0x3000 };
        var status = stackalloc int[1];
        var tid = GetTid();
        for (var i = 0; i < 5; i++) MovePages(0, 1, page, null, status, 0);
        // Under load (a backlog past the fold threshold) identical calls arrive folded: count what events stand for.
        for (long calls = 0; calls < 5;)
            calls += _live.WaitFor(e => e.Tid == tid && e.PagesAddress == (ulong)page, $"call {calls}").FoldCount;

        Assert.True(_live.Probe.Counters.Read(KernelCounter.Submitted) >= before + 5);
        Assert.Equal(0UL, _live.Probe.Counters.Read(KernelCounter.LostRingBufferFull));
    }
}
