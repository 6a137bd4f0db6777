using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.TestSupport;
using Sentinel.Bpf;

namespace Sentinel.Response.Tests;

/// <summary>
/// Live: namespace and capability preconditions, signal(N), a pid namespace's init, the LSM fallback and overlapping
/// reloads. Every policy names the stepper's comm (or a count no other process uses).
/// </summary>
[Collection("live")]
public sealed unsafe class LivePreconditionTests
{
    private const int Sigstop = 19, Sigcont = 18, KilledExit = 137;

    private static KernelResponder Attach(ResponseMode mode, IReadOnlyList<ResponsePath>? order = null)
    {
        BpfEnvironment.EnsureReady();
        return KernelResponder.Attach(new ResponseOptions { Mode = mode }, NullLogger.Instance, order);
    }

    [LiveFact]
    public void The_init_of_a_new_pid_namespace_is_killed_like_any_caller_so_unshare_is_no_escape()
    {
        // Only the host's pid 1 is spared: were every namespace init spared, `unshare -Urpf` would make any user immune.
        using var responder = Attach(ResponseMode.Enforce);
        var records = new Records(responder);
        responder.Install([new InstalledPolicy("SNT-9300", new KernelPolicy { Comm = "stepper64" }, ResponseAction.Kill)]);
        using var init = Stepper.Start("", prefix: ["unshare", "--pid", "--fork", "--kill-child"]);
        Assert.Equal(1, init.Pid); // pid 1 of its own namespace
        var hostPid = init.HostPid;
        Assert.NotEqual(1, hostPid);

        Assert.Null(init.Step()); // killed before its post-call line
        Assert.Equal(ResponseResult.Signalled, records.WaitFor(r => r.Pid == hostPid, "the namespace init's kill").Result);
    }

    [LiveFact]
    public void An_allowlisted_executable_is_never_killed()
    {
        BpfEnvironment.EnsureReady();
        var stepper = Stepper.Binary();
        using var responder = KernelResponder.Attach(new ResponseOptions { Mode = ResponseMode.Enforce, AllowExes = [stepper] }, NullLogger.Instance);
        var records = new Records(responder);
        responder.Install([new InstalledPolicy("SNT-9306", new KernelPolicy { Comm = "stepper64" }, ResponseAction.Kill)]);
        using var helper = Stepper.Start("");

        Assert.StartsWith("call=1 ret=0 ", helper.Step());
        Assert.Equal(ResponseResult.Protected, records.WaitFor(r => r.Pid == helper.Pid, "the spared call").Result);
        Assert.Equal(0, helper.Finish());
    }

    [LiveFact]
    public void A_process_in_an_allowlisted_cgroup_is_never_killed_and_one_outside_it_is()
    {
        BpfEnvironment.EnsureReady();
        // The cgroup v2 hierarchy: /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid one.
        var root = File.ReadAllLines("/proc/mounts").Select(l => l.Split(' ')).First(f => f[2] == "cgroup2")[1];
        var cgroup = Directory.CreateDirectory(Path.Combine(root, $"sentinel-allow-{Environment.ProcessId}")).FullName;
        try
        {
            using var responder = KernelResponder.Attach(new ResponseOptions { Mode = ResponseMode.Enforce, AllowCgroups = [cgroup] }, NullLogger.Instance);
            var records = new Records(responder);
            responder.Install([new InstalledPolicy("SNT-9307", new KernelPolicy { Comm = "stepper64" }, ResponseAction.Kill)]);
            using (var inside = Stepper.Start(""))
            {
                File.WriteAllText(Path.Combine(cgroup, "cgroup.procs"), inside.Pid.ToString());
                Assert.StartsWith("call=1 ret=0 ", inside.Step());
                Assert.Equal(ResponseResult.Protected, records.WaitFor(r => r.Pid == inside.Pid, "the spared call").Result);
                Assert.Equal(0, inside.Finish());
            }
            using var outside = Stepper.Start("");
            Assert.Null(outside.Step());
            Assert.Equal(KilledExit, outside.WaitForExit());
        }
        finally
        {
            Directory.Delete(cgroup); // rmdir: empty once the stepper has exited
        }
    }

    [LiveFact]
    public void A_namespace_precondition_tells_a_caller_in_its_own_mount_namespace_from_one_on_the_host()
    {
        using var responder = Attach(ResponseMode.Audit);
        var records = new Records(responder);
        responder.Install([
            new InstalledPolicy("SNT-9301", new KernelPolicy { Comm = "stepper64", Namespace = CallerNamespace.Container }, ResponseAction.Kill),
            new InstalledPolicy("SNT-9302", new KernelPolicy { Comm = "stepper64", Namespace = CallerNamespace.Host }, ResponseAction.Kill),
        ]);
        using var contained = Stepper.Start("", prefix: ["unshare", "--mount"]);
        using var host = Stepper.Start("");

        Assert.StartsWith("call=1 ", contained.Step());
        Assert.StartsWith("call=1 ", host.Step());

        var inContainer = records.WaitFor(r => r.Pid == contained.Pid, "the contained call");
        var onHost = records.WaitFor(r => r.Pid == host.Pid, "the host call");
        Assert.Equal("SNT-9301", inContainer.RuleId);
        Assert.Equal("SNT-9302", onHost.RuleId);
        Assert.NotEqual(onHost.MountNamespace, inContainer.MountNamespace);
    }

    [LiveFact]
    public void Capability_preconditions_test_the_callers_effective_capabilities()
    {
        using var responder = Attach(ResponseMode.Audit);
        var records = new Records(responder);
        responder.Install([
            new InstalledPolicy("SNT-9303", new KernelPolicy { Comm = "stepper64", Lacks = Capability.SysNice }, ResponseAction.Kill),
            new InstalledPolicy("SNT-9304", new KernelPolicy { Comm = "stepper64", Has = Capability.SysNice }, ResponseAction.Kill),
        ]);
        using var nobody = Stepper.Start("", asNobody: true);
        using var root = Stepper.Start("");

        Assert.StartsWith("call=1 ", nobody.Step());
        Assert.StartsWith("call=1 ", root.Step());

        var lacking = records.WaitFor(r => r.Pid == nobody.Pid, "the unprivileged call");
        var having = records.WaitFor(r => r.Pid == root.Pid, "the privileged call");
        Assert.Equal("SNT-9303", lacking.RuleId);
        Assert.Equal(0UL, lacking.CapEffective & (1UL << (int)Capability.SysNice));
        Assert.Equal("SNT-9304", having.RuleId);
        Assert.NotEqual(0UL, having.CapEffective & (1UL << (int)Capability.SysNice));
    }

    [LiveFact]
    public void A_signal_action_stops_the_caller_before_its_call_returns_and_it_resumes_on_sigcont()
    {
        using var responder = Attach(ResponseMode.Enforce);
        var records = new Records(responder);
        responder.Install([new InstalledPolicy("SNT-9305", new KernelPolicy { Comm = "stepper64", Flags = MoveFlags.MoveAll },
            ResponseAction.Signal(Sigstop))]);
        using var helper = Stepper.Start("--flags 4");

        helper.Send();

        var stopped = records.WaitFor(r => r.Pid == helper.Pid, "the SIGSTOP");
        Assert.Equal(ResponseResult.Signalled, stopped.Result);
        Assert.Equal(ResponseKind.Signal, stopped.Action.Kind);
        Assert.Equal(Sigstop, stopped.Action.SignalNumber);
        Wait.Until(() => ProcessState(helper.Pid) == 'T', "the stepper to be stopped", 10);
        Assert.False(helper.HasLine); // stopped before it could print its post-call line

        Assert.Equal(0, Kill(helper.Pid, Sigcont));
        Assert.StartsWith("call=1 ret=0 ", helper.NextLine()); // kept alive for forensics, and the call completed
        Assert.Equal(0, helper.Finish());
    }

    [LiveFact]
    public void Where_the_kernel_refuses_lsm_programs_the_responder_says_why_and_falls_back_to_signals()
    {
        using var responder = Attach(ResponseMode.Audit);
        var lsm = Assert.Single(responder.Attempts, a => a.StartsWith("lsm-deny: ", StringComparison.Ordinal));
        if (lsm == "lsm-deny: attached")
        {
            Assert.Equal(ResponsePath.LsmDeny, responder.Path);
            return;
        }
        Assert.Equal(ResponsePath.TracepointSignal, responder.Path);
        Assert.Equal("tracepoint-signal: attached", responder.Attempts[^1]);
        var lockdown = File.Exists("/sys/kernel/security/lockdown") ? File.ReadAllText("/sys/kernel/security/lockdown") : "";
        if (lockdown.Contains("[integrity]"))
            Assert.StartsWith("lsm-deny: the kernel refuses BPF LSM programs (lockdown=integrity): ", lsm);
        else if (KernelResponder.LsmUnavailable() is { } unavailable)
            Assert.Equal($"lsm-deny: {unavailable}", lsm);
    }

    [LiveFact]
    public void Overlapping_reloads_never_show_a_run_a_mix_of_two_policy_sets()
    {
        using var responder = Attach(ResponseMode.Audit);
        var records = new Records(responder);
        const ulong marker = 4245;
        // Set g: 15 policies that never match, then the marker's, named after g's parity. A run that read a set
        // while it was rewritten would report one generation with the other parity's rule.
        IReadOnlyList<InstalledPolicy> SetFor(uint generation) =>
        [
            .. Enumerable.Range(0, 15).Select(i => new InstalledPolicy($"SNT-93{i:00}", new KernelPolicy { Comm = $"none-{generation % 2}-{i}" }, ResponseAction.Kill)),
            new InstalledPolicy(generation % 2 == 0 ? "SNT-EVEN" : "SNT-ODD", new KernelPolicy { MinCount = marker, Target = CallTarget.Self }, ResponseAction.Audit),
        ];
        responder.Install(SetFor(responder.Generation + 1));
        var stop = false;
        var reloads = 0;
        var reloader = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                responder.Install(SetFor(responder.Generation + 1));
                Interlocked.Increment(ref reloads);
            }
        });
        reloader.Start();
        var pages = new ulong[marker];
        var status = new int[marker];
        var deadline = DateTime.UtcNow.AddSeconds(3);
        var calls = 0;
        fixed (ulong* p = pages)
        fixed (int* s = status)
        {
            while (DateTime.UtcNow < deadline || Volatile.Read(ref reloads) < 20)
            {
                MovePagesCalls.MovePages(0, marker, p, null, s, 0);
                calls++;
            }
            Volatile.Write(ref stop, true);
            reloader.Join();
            MovePagesCalls.MovePages(0, marker, p, null, s, 0); // one call under the last set
        }
        records.WaitFor(r => r.Generation == responder.Generation && r.Pid == Environment.ProcessId, "a record of the last set");

        var marks = records.All.Where(r => r.Pid == Environment.ProcessId).ToList();
        Assert.True(marks.Select(r => r.Generation).Distinct().Count() >= 2, $"{reloads} reloads, {calls} calls, records of one generation only");
        Assert.All(marks, r => Assert.Equal(r.Generation % 2 == 0 ? "SNT-EVEN" : "SNT-ODD", r.RuleId));
    }

    [Fact]
    public void The_lsm_reasons_name_a_missing_bpf_lsm_and_a_lockdown()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-lsm").FullName;
        File.WriteAllText(Path.Combine(dir, "lsm"), "lockdown,capability,apparmor\n");
        File.WriteAllText(Path.Combine(dir, "lockdown"), "none [integrity] confidentiality\n");
        Assert.Equal("the BPF LSM is not active (active LSMs: lockdown,capability,apparmor; boot with lsm=...,bpf)",
            KernelResponder.LsmUnavailable(Path.Combine(dir, "lsm")));
        File.WriteAllText(Path.Combine(dir, "lsm"), "lockdown,capability,bpf\n");
        Assert.Null(KernelResponder.LsmUnavailable(Path.Combine(dir, "lsm")));
        Assert.Equal("the kernel refuses BPF LSM programs (lockdown=integrity): load failed: Operation not permitted",
            KernelResponder.LsmFailure(new BpfException(BpfErrorKind.Load, -1, "load failed: Operation not permitted"), Path.Combine(dir, "lockdown")));
        Assert.Equal("load failed: Invalid argument",
            KernelResponder.LsmFailure(new BpfException(BpfErrorKind.Load, -22, "load failed: Invalid argument"), Path.Combine(dir, "lockdown")));
    }

    private static char ProcessState(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[stat.LastIndexOf(')') + 2];
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}
