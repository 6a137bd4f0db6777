using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.TestSupport;
using Sentinel.Bpf;
using static Sentinel.TestSupport.MovePagesCalls;

namespace Sentinel.Probes.Tests;

/// <summary>Each attach strategy on its own, and the fallback's reasons.</summary>
[Collection("live")]
public sealed unsafe class StrategyTests
{
    [LiveFact]
    public void The_kprobe_programs_pass_the_verifier_even_where_kprobes_cannot_attach()
    {
        BpfEnvironment.EnsureReady();
        using var obj = BpfObject.Open(BpfObjectFiles.Path(MovePagesProbe.ObjectName));
        obj.SelectPrograms(["kprobe_enter", "kprobe_exit", "kprobe_enter_compat", "kprobe_exit_compat"]);

        obj.Load(); // throws with the verifier's reason if a program is rejected
    }

    [LiveFact]
    public void Auto_falls_back_past_kprobes_and_records_why()
    {
        BpfEnvironment.EnsureReady();
        using var probe = MovePagesProbe.Attach(NullLogger.Instance);

        var kprobe = probe.Attempts.First();
        Assert.Equal(AttachStrategy.Kprobe, kprobe.Strategy);
        if (File.Exists("/sys/bus/event_source/devices/kprobe/type"))
        {
            Assert.Equal(AttachStrategy.Kprobe, probe.Strategy);
            return;
        }
        // This kernel has no kprobes: the load passed, the attach failed, and the reason names it.
        Assert.False(kprobe.Attached);
        Assert.StartsWith("attach kprobe_enter", kprobe.Detail);
        Assert.Equal(AttachStrategy.Tracepoint, probe.Strategy);
        Assert.True(probe.Attempts.Last().Attached);
    }

    [LiveFact]
    public void Raw_syscalls_alone_captures_native_and_compat_calls() => CapturesNativeAndCompat(AttachStrategy.RawSyscalls);

    [LiveFact]
    public void The_tracepoint_fallback_captures_native_and_compat_calls() => CapturesNativeAndCompat(AttachStrategy.Tracepoint);

    [LiveFact]
    public void Tp_btf_alone_captures_native_and_compat_calls() => CapturesNativeAndCompat(AttachStrategy.BtfRawTracepoint);

    private static void CapturesNativeAndCompat(AttachStrategy strategy)
    {
        using var live = new LiveCapture(strategy);
        var page = stackalloc ulong[1] { 0x4000 };
        var status = stackalloc int[1];
        var tid = GetTid();

        MovePages(0, 1, page, null, status, 0);
        var native = live.WaitFor(e => e.Tid == tid && e.PagesAddress == (ulong)page, $"native call via {strategy}");
        var call = MovePagesHelper.Run("move_pages32", "--pages 2 --query").Single();
        var compat = live.WaitFor(e => e.Pid == call.Pid, $"compat call via {strategy}");

        Assert.Equal(strategy, native.Strategy);
        Assert.False(native.Compat);
        Assert.Equal([0x4000UL], native.PagesAtEntry.ToArray());
        Assert.True(compat.Compat);
        Assert.Equal(2UL, compat.Count);
        Assert.Equal(call.Status, compat.Status.ToArray());
    }

    [Fact]
    public void A_missing_object_fails_at_once_instead_of_as_every_strategy()
    {
        var ex = Assert.Throws<BpfException>(() => MovePagesProbe.Attach(NullLogger.Instance, objectPath: "/nonexistent/move_pages.bpf.o"));

        Assert.Equal(BpfErrorKind.ObjectMissing, ex.Kind);
        Assert.Equal(2, ex.Errno); // ENOENT
    }

    [LiveFact]
    public void Forcing_an_unavailable_strategy_fails_with_its_reason()
    {
        BpfEnvironment.EnsureReady();
        if (File.Exists("/sys/bus/event_source/devices/kprobe/type")) return; // kprobes work here

        var ex = Assert.Throws<ProbeAttachException>(() => MovePagesProbe.Attach(NullLogger.Instance, [AttachStrategy.Kprobe]));

        Assert.Contains("kprobe: attach kprobe_enter", ex.Message);
        Assert.False(ex.Attempts.Single().Attached);
    }
}
