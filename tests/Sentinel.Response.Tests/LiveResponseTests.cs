using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.TestSupport;
using Sentinel.Bpf;

namespace Sentinel.Response.Tests;

/// <summary>
/// Real probes, real calls. Every policy names the stepper's comm, so test processes of other suites running at the
/// same time are never touched.
/// </summary>
[Collection("live")]
public sealed unsafe class LiveResponseTests
{
    private const int Sigkill = 9, KilledExit = 128 + Sigkill;
    private static readonly KernelPolicy MoveAllAsNobody = new() { Comm = "stepper64", Flags = MoveFlags.MoveAll, Uid = 65534 };

    private static KernelResponder Attach(ResponseMode mode, IReadOnlyList<string>? allowComms = null, uint killsPerSecond = 20)
    {
        BpfEnvironment.EnsureReady();
        return KernelResponder.Attach(new ResponseOptions { Mode = mode, AllowComms = allowComms ?? [], KillsPerSecond = killsPerSecond },
            NullLogger.Instance);
    }

    [LiveFact]
    public void A_kill_policy_kills_a_move_all_caller_before_its_call_returns()
    {
        using var responder = Attach(ResponseMode.Enforce);
        var records = new Records(responder);
        responder.Install([new InstalledPolicy("SNT-0002", MoveAllAsNobody, ResponseAction.Kill)]);
        using var helper = Stepper.Start("--flags 4", asNobody: true);

        var line = helper.Step();

        Assert.Null(line); // it never printed its post-call line
        Assert.Equal(KilledExit, helper.WaitForExit());
        var kill = records.WaitFor(r => r.Pid == helper.Pid, "the kill");
        Assert.Equal(ResponseResult.Signalled, kill.Result);
        Assert.Equal(ResponseSource.Policy, kill.Source);
        Assert.Equal("SNT-0002", kill.RuleId);
        Assert.Equal(65534u, kill.Uid);
        Assert.Equal(4, kill.Flags);
        Assert.Equal("stepper64", kill.Comm);
        Assert.False(kill.Denied); // the signal path: the call ran, its result never reached the caller
        Assert.Equal(ResponsePath.TracepointSignal, responder.Path);
    }

    [LiveFact]
    public void Audit_mode_kills_nothing_and_reports_would_kill()
    {
        using var responder = Attach(ResponseMode.Audit);
        var records = new Records(responder);
        responder.Install([new InstalledPolicy("SNT-0002", MoveAllAsNobody, ResponseAction.Kill)]);
        using var helper = Stepper.Start("--flags 4", asNobody: true);

        var line = helper.Step();

        Assert.StartsWith("call=1 ret=-1 errno=1 ", line); // EPERM from the kernel, and the caller lived to print it
        Assert.Equal(0, helper.Finish());
        Assert.Equal(ResponseResult.WouldKill, records.WaitFor(r => r.Pid == helper.Pid, "the would-kill").Result);
        Assert.Equal(0, responder.Counters.Signalled);
    }

    [LiveFact]
    public void An_allowlisted_comm_is_never_killed()
    {
        using var responder = Attach(ResponseMode.Enforce, allowComms: ["stepper64"]);
        var records = new Records(responder);
        responder.Install([new InstalledPolicy("SNT-0002", MoveAllAsNobody, ResponseAction.Kill)]);
        using var helper = Stepper.Start("--flags 4", asNobody: true);

        Assert.StartsWith("call=1 ", helper.Step());
        Assert.Equal(0, helper.Finish());
        Assert.Equal(ResponseResult.Protected, records.WaitFor(r => r.Pid == helper.Pid, "the spared call").Result);
    }

    [LiveFact]
    public void The_agent_itself_is_never_killed()
    {
        using var responder = Attach(ResponseMode.Enforce);
        var records = new Records(responder);
        // An unusual count marks this process's own call: no other process makes it.
        responder.Install([new InstalledPolicy("SNT-0099", new KernelPolicy { MinCount = 4243, Target = CallTarget.Self }, ResponseAction.Kill)]);
        var pages = new ulong[4243];
        var status = new int[4243];

        fixed (ulong* p = pages)
        fixed (int* s = status)
            MovePagesCalls.MovePages(0, 4243, p, null, s, 0);

        var spared = records.WaitFor(r => r.Pid == Environment.ProcessId, "the agent's own call");
        Assert.Equal(ResponseResult.Protected, spared.Result);
    }

    [LiveFact]
    public void Kills_beyond_the_rate_limit_are_reported_not_taken()
    {
        using var responder = Attach(ResponseMode.Enforce, killsPerSecond: 0);
        var records = new Records(responder);
        responder.Install([new InstalledPolicy("SNT-0002", MoveAllAsNobody, ResponseAction.Kill)]);
        using var helper = Stepper.Start("--flags 4", asNobody: true);

        Assert.StartsWith("call=1 ", helper.Step());
        Assert.Equal(0, helper.Finish());
        Assert.Equal(ResponseResult.RateLimited, records.WaitFor(r => r.Pid == helper.Pid, "the rate-limited kill").Result);
    }

    [LiveFact]
    public void A_policy_reload_and_its_removal_take_effect_on_the_next_call()
    {
        using var responder = Attach(ResponseMode.Enforce);
        var records = new Records(responder);
        using var helper = Stepper.Start("");
        var ownMarker = new InstalledPolicy("SNT-0098", new KernelPolicy { MinCount = 4244, Target = CallTarget.Self }, ResponseAction.Audit);

        Assert.StartsWith("call=1 ret=0 ", helper.Step()); // nothing installed
        responder.Install([new InstalledPolicy("SNT-0097", new KernelPolicy { Comm = "stepper64" }, ResponseAction.Audit)]);
        Assert.StartsWith("call=2 ret=0 ", helper.Step());
        var audited = records.WaitFor(r => r.Pid == helper.Pid, "the audit after the reload");
        Assert.Equal("SNT-0097", audited.RuleId);

        responder.Install([ownMarker]); // the stepper's policy is removed
        Assert.StartsWith("call=3 ret=0 ", helper.Step());
        AgentMarkerCall(4244);
        records.WaitFor(r => r.RuleId == "SNT-0098", "the marker after call 3");
        // The ring is ordered: had call 3 been acted on, its record would have come before the marker's.
        Assert.Single(records.All, r => r.Pid == helper.Pid);

        responder.Install([new InstalledPolicy("SNT-0097", new KernelPolicy { Comm = "stepper64" }, ResponseAction.Kill)]);
        Assert.Null(helper.Step());
        Assert.Equal(KilledExit, helper.WaitForExit());
    }

    [LiveFact]
    public void A_32_bit_caller_is_killed_through_the_compat_path()
    {
        using var responder = Attach(ResponseMode.Enforce);
        var records = new Records(responder);
        responder.Install([new InstalledPolicy("SNT-0007",
            new KernelPolicy { Comm = "stepper32", Flags = MoveFlags.MoveAll, Uid = 65534, Compat = true }, ResponseAction.Kill)]);
        using var helper = Stepper.Start("--flags 4", compat: true, asNobody: true);

        Assert.Null(helper.Step());
        Assert.Equal(KilledExit, helper.WaitForExit());
        var kill = records.WaitFor(r => r.Pid == helper.Pid, "the compat kill");
        Assert.True(kill.Compat);
        Assert.Equal(ResponseResult.Signalled, kill.Result);
    }

    [LiveFact]
    public void A_marked_process_is_killed_at_its_next_call_and_a_pid_scan_never_gets_its_sixth_answer()
    {
        using var responder = Attach(ResponseMode.Enforce);
        var records = new Records(responder);
        using var helper = Stepper.Start("--pid 2147483600"); // no such pid: ESRCH, a scan
        for (var i = 1; i <= 5; i++)
            Assert.StartsWith($"call={i} ret=-1 errno=3 ", helper.Step());

        // What the agent does on SNT-0005's detection of the fifth failure (Response = Kill).
        Assert.True(responder.Mark(helper.Pid, ResponseAction.Kill, "SNT-0005"));

        Assert.Null(helper.Step());
        Assert.Equal(KilledExit, helper.WaitForExit());
        var kill = records.WaitFor(r => r.Pid == helper.Pid, "the verdict kill");
        Assert.Equal(ResponseSource.Verdict, kill.Source);
        Assert.Equal("SNT-0005", kill.RuleId);
        Assert.Equal(2147483600, kill.TargetPid);

        // The killed process is reaped: its mark goes, and calls skip the verdict lookup again.
        Wait.Until(() => responder.Marked == 0, "the killed process's mark to go", 10);
        Assert.False(responder.VerdictLookupOn);
    }

    [LiveFact]
    public void A_mark_is_bound_to_the_start_time_so_another_process_with_the_pid_is_spared()
    {
        using var responder = Attach(ResponseMode.Enforce);
        var records = new Records(responder);
        using var helper = Stepper.Start("");
        Assert.True(responder.Mark(helper.Pid, ResponseAction.Kill, "SNT-0005"));
        responder.ForgeVerdictStart(helper.Pid, startTicks: 1); // as if the marked process had died and the pid been reused

        Assert.StartsWith("call=1 ret=0 ", helper.Step());
        Assert.Equal(0, helper.Finish());
        Assert.DoesNotContain(records.All, r => r.Pid == helper.Pid);
    }

    [LiveFact]
    public void The_kprobe_override_path_goes_through_the_verifier()
    {
        BpfEnvironment.EnsureReady();
        var log = new LogCapture();
        Sentinel.Bpf.Native.LibbpfLog.Install(log);
        using var obj = BpfObject.Open(BpfObjectFiles.Path(KernelResponder.ObjectName));
        obj.SelectPrograms(KernelResponder.Programs[ResponsePath.KprobeOverride]);
        try
        {
            obj.Load();
        }
        catch (BpfException ex)
        {
            // Without CONFIG_BPF_KPROBE_OVERRIDE the verifier walks the program and refuses exactly the helper.
            Assert.StartsWith("load failed", ex.Message);
            Assert.True(log.Text.Contains("cannot use helper bpf_override_return"), log.Text[^Math.Min(3000, log.Text.Length)..]);
        }
    }

    [LiveFact]
    public void Auto_picks_the_strongest_path_that_attaches_and_says_why_the_others_failed()
    {
        using var responder = Attach(ResponseMode.Audit);
        if (responder.Attempts[0] == "kprobe-override: attached")
        {
            Assert.Equal(ResponsePath.KprobeOverride, responder.Path);
            return;
        }
        Assert.False(File.Exists("/sys/bus/event_source/devices/kprobe/type") && responder.Attempts[0].Contains("attach"),
            "kprobes exist and the override program loaded, yet it did not attach: " + responder.Attempts[0]);
        Assert.Equal(ResponsePath.TracepointSignal, responder.Path);
        Assert.StartsWith("kprobe-override: ", responder.Attempts[0]);
        Assert.Equal("tracepoint-signal: attached", responder.Attempts[^1]);
    }

    [Fact]
    public void Enforce_is_refused_without_bpf_send_signal_but_audit_is_not()
    {
        var options = new ResponseOptions { Mode = ResponseMode.Enforce };
        var refused = Assert.Throws<ResponseUnavailableException>(() => KernelResponder.Attach(options, NullLogger.Instance, hasSendSignal: () => false));
        Assert.Contains("--enforce needs bpf_send_signal", refused.Message);
        Assert.Contains("--enforce=audit", refused.Message);
    }

    private sealed class LogCapture : Microsoft.Extensions.Logging.ILogger
    {
        private readonly System.Text.StringBuilder _text = new();
        public string Text { get { lock (_text) return _text.ToString(); } }
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_text) _text.AppendLine(formatter(state, exception));
        }
    }

    private static void AgentMarkerCall(ulong count)
    {
        var pages = new ulong[count];
        var status = new int[count];
        fixed (ulong* p = pages)
        fixed (int* s = status)
            MovePagesCalls.MovePages(0, count, p, null, s, 0);
    }
}
