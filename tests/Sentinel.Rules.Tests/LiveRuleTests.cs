using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.TestSupport;
using Sentinel.Bpf;

namespace Sentinel.Rules.Tests;

/// <summary>The probes attached to the running kernel feed the built-in rules; real calls make them fire.</summary>
public sealed unsafe partial class LiveRuleTests
{
    [LiveFact]
    public void Builtin_rules_fire_on_a_real_cross_process_call_and_a_real_move_all_without_cap_sys_nice()
    {
        BpfEnvironment.EnsureReady();
        var channel = Channel.CreateUnbounded<MovePagesEvent>();
        using var probe = MovePagesProbe.Attach(NullLogger.Instance);
        using var source = new CaptureSource(probe, channel.Writer, new EventPool(), new CaptureOptions(), NullLogger.Instance);
        source.Start();
        using var engine = RuleEngine.Load(RepoPaths.Rules, TestRules.Options() with { Host = HostInfo.Detect() }, NullLogger.Instance);
        using var target = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        try
        {
            var page = MovePagesCalls.MapTouched(1);
            try
            {
                var pages = stackalloc ulong[1];
                var status = stackalloc int[1];
                pages[0] = (ulong)page;
                // Query mode on another process: pid is neither 0 nor the caller.
                var crossResult = MovePagesCalls.MovePages(target.Id, 1, pages, null, status, 0);
                // MOVE_ALL from a thread whose effective set lacks CAP_SYS_NICE: the kernel answers EPERM.
                var moveAllResult = RunWithoutCapSysNice(() =>
                {
                    var node = stackalloc int[1];
                    var st = stackalloc int[1];
                    var pg = stackalloc ulong[1];
                    pg[0] = (ulong)page;
                    return MovePagesCalls.MovePages(0, 1, pg, node, st, (int)MoveFlags.MoveAll);
                });
                Assert.True(crossResult >= 0 || crossResult == -1, $"cross-process call returned {crossResult}");
                Assert.Equal(-1, moveAllResult); // EPERM

                var sink = new ListSink();
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
                while (!(HasFired(sink, "SNT-0001", target.Id) && HasFired(sink, "SNT-0002", null)))
                {
                    using var timeout = new CancellationTokenSource(deadline - DateTime.UtcNow);
                    MovePagesEvent evt;
                    try
                    {
                        evt = channel.Reader.ReadAsync(timeout.Token).AsTask().GetAwaiter().GetResult();
                    }
                    catch (OperationCanceledException)
                    {
                        Assert.Fail("the rules did not fire within 20 s; detections: " +
                                    string.Join(", ", sink.Detections.Select(d => $"{d.Rule.Id} {d.Message}")));
                        return;
                    }
                    if (evt.Pid == Environment.ProcessId) engine.Evaluate(evt, sink);
                }

                var moveAll = sink.Detections.First(d => d.Rule.Id == "SNT-0002");
                Assert.False(moveAll.Event.HasCapability(Capability.SysNice));
                Assert.Equal("EPERM", moveAll.Event.ErrnoName);
            }
            finally
            {
                MovePagesCalls.Unmap(page, 1);
            }
        }
        finally
        {
            target.Kill();
        }
    }

    private static bool HasFired(ListSink sink, string ruleId, int? targetPid) =>
        sink.Detections.Any(d => d.Rule.Id == ruleId && (targetPid is null || d.Event.TargetPid == targetPid));

    /// <summary>Capabilities are per thread on Linux: drop CAP_SYS_NICE from a fresh thread's effective set only.</summary>
    private static long RunWithoutCapSysNice(Func<long> call)
    {
        long result = 0;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                var header = new CapHeader { Version = 0x20080522, Pid = 0 };
                var data = stackalloc CapData[2];
                if (capget(&header, data) != 0) throw new InvalidOperationException($"capget: errno {Marshal.GetLastPInvokeError()}");
                data[0].Effective &= ~(1u << (int)Capability.SysNice);
                if (capset(&header, data) != 0) throw new InvalidOperationException($"capset: errno {Marshal.GetLastPInvokeError()}");
                result = call();
            }
            catch (Exception ex)
            {
                error = ex;
            }
        });
        thread.Start();
        thread.Join();
        if (error is not null) throw error;
        return result;
    }

    private struct CapHeader
    {
        public uint Version;
        public int Pid;
    }

    private struct CapData
    {
        public uint Effective, Permitted, Inheritable;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int capget(CapHeader* header, CapData* data);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int capset(CapHeader* header, CapData* data);
}
