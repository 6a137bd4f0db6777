using Sentinel.Events;
using Sentinel.Response;

namespace Sentinel.GuestKernel.Tests;

/// <summary>
/// The in-kernel response (bpf/response.bpf.o) on the path this machine's kernel refuses: its LSM programs
/// through a verifier that allows them, in the guest booted with lsm=...,bpf. /init installs two kill policies
/// through response.h's structs, in enforce mode with the LSM deny on: MPOL_MF_MOVE set with comm "init", and
/// MPOL_MF_MOVE set by a 32-bit caller. Pid 1 (/init itself) and its forks, which keep the comm "init", make the
/// same calls: only the tgid differs. A victim ("page_owner") owns two pages on node 0; the kprobe capture stays
/// attached and sees every call's return.
/// </summary>
[Collection("guest")]
public sealed class ResponseGuestTests(GuestBoot guest)
{
    private const int InitPid = 1, SigKill = 9;
    private GuestReport Report => guest.Report;
    private int Victim => int.Parse(Report.Single("resp-victim"));

    private GuestReport.ResponseLine ResponseOf(string scenario) =>
        Report.ResponseRecords.Where(r => r.Scenario == scenario).ToArray() is [var one]
            ? one
            : throw new Xunit.Sdk.XunitException(
                $"expected one response record for {scenario}, found: {string.Join(" | ", Report.ResponseRecords)}{Report.GuestErrors()}");

    /// <summary>The kprobe capture's record of one call, by the scenario it ran in and the caller.</summary>
    private MovePagesEvent CapturedCall(string scenario, int pid) =>
        Report.Records.Where(r => r.Scenario == scenario && r.Event.Pid == pid && r.Event.Flags == (int)MoveFlags.Move)
            .ToArray() is [var one]
            ? one.Event
            : throw new Xunit.Sdk.XunitException($"expected one captured MOVE call by pid {pid} in {scenario}{Report.GuestErrors()}");

    /// <summary>The fork's pid from its pre-call line, and how it ended.</summary>
    private (int Pid, string Exit) Child(string scenario)
    {
        var before = Report.All("resp-before").Single(l => l.StartsWith(scenario + " "));
        var pid = int.Parse(before.Split("pid=")[1]);
        var (exitPid, exit) = Exit(scenario);
        Assert.Equal(pid, exitPid);
        return (pid, exit);
    }

    private (int Pid, string Exit) Exit(string scenario)
    {
        var fields = Report.All("resp-exit").Single(l => l.StartsWith(scenario + " ")).Split(' ');
        return (int.Parse(fields[1]["pid=".Length..]), fields[2]);
    }

    [GuestFact]
    public void The_responses_lsm_path_passes_the_verifier_and_attaches_under_lockdown()
    {
        Assert.Contains("bpf", Report.Single("lsm").Split(','));
        Assert.Equal(["response_enter ok", "response_enter_compat ok", "response_lsm_deny ok"], Report.All("resp-attach"));
        Assert.Equal(["kill flags=2 comm=init", "kill flags=2 compat"], Report.All("resp-policy"));
    }

    [GuestFact]
    public void Pid_1_matching_the_kill_policy_is_judged_protected_and_its_calls_complete()
    {
        var self = Report.ResponseCalls["init_self"];
        Assert.Equal((InitPid, 0L, 0), (self.Pid, self.Ret, self.Errno));
        Assert.Equal([1], self.Status); // its own page really moved to node 1
        var judged = ResponseOf("init_self");
        Assert.Equal((InitPid, InitPid, 0, (int)MoveFlags.Move), (judged.Pid, judged.Tid, judged.TargetPid, judged.Flags));
        Assert.Equal((ResponseSource.Policy, ResponseKind.Kill, ResponseResult.Protected), (judged.Source, judged.Action, judged.Result));
        Assert.Equal(("init", false, 1u, 0), (judged.Comm, judged.Denied, judged.Generation, judged.Error));

        // Naming another process's pid reaches the LSM hook; a protected caller is not refused there either.
        var cross = Report.ResponseCalls["init_cross"];
        Assert.Equal((InitPid, 0L, 0), (cross.Pid, cross.Ret, cross.Errno));
        Assert.Equal([1], cross.Status);
        var crossJudged = ResponseOf("init_cross");
        Assert.Equal((InitPid, Victim, ResponseResult.Protected, false),
            (crossJudged.Pid, crossJudged.TargetPid, crossJudged.Result, crossJudged.Denied));
        Assert.Equal([0, 0], Report.ResponseQueries["before"].Status);
        Assert.Equal(1, Report.ResponseQueries["after_denied"].Status[1]);
    }

    [GuestFact]
    public void A_fork_of_pid_1_making_the_same_call_is_killed_before_the_call_returns()
    {
        var (pid, exit) = Child("child_self");

        Assert.Equal($"signal={SigKill}", exit);
        Assert.False(Report.ResponseCalls.ContainsKey("child_self"), "the killed fork printed its post-call line");
        var judged = ResponseOf("child_self");
        Assert.Equal((pid, 0, (int)MoveFlags.Move, "init"), (judged.Pid, judged.TargetPid, judged.Flags, judged.Comm));
        Assert.Equal((ResponseSource.Policy, ResponseKind.Kill, ResponseResult.Signalled), (judged.Source, judged.Action, judged.Result));
        Assert.Equal((SigKill, 0, false), (judged.Signal, judged.Error, judged.Denied));
        // The call body still ran to its return (pid 0 never reaches the LSM hook); the caller never saw it.
        Assert.Equal(0, CapturedCall("child_self", pid).ReturnValue);
    }

    [GuestFact]
    public void A_killed_callers_cross_process_call_is_refused_with_eperm_at_the_lsm_hook_and_no_page_moves()
    {
        var (pid, exit) = Child("child_cross");

        Assert.Equal($"signal={SigKill}", exit);
        Assert.False(Report.ResponseCalls.ContainsKey("child_cross"), "the killed fork printed its post-call line");
        var judged = ResponseOf("child_cross");
        Assert.Equal((pid, Victim, ResponseResult.Signalled, true), (judged.Pid, judged.TargetPid, judged.Result, judged.Denied));
        // The kretprobe saw the syscall return -EPERM: the response's LSM program refused it.
        var captured = CapturedCall("child_cross", pid);
        Assert.Equal((-Errno.EPERM, Victim, "init"), (captured.ReturnValue, captured.TargetPid, captured.Comm));
        // The victim's first page stayed on node 0, and the hook consumed the pending denial it acted on.
        Assert.Equal([0, 1], Report.ResponseQueries["after_denied"].Status);
        Assert.Equal("0", Report.Single("resp-pending"));
    }

    [GuestFact]
    public void The_same_cross_process_call_by_a_caller_the_policy_does_not_name_is_neither_killed_nor_refused()
    {
        var (pid, exit) = Child("other_cross");

        Assert.Equal("code=0", exit);
        var call = Report.ResponseCalls["other_cross"];
        Assert.Equal((pid, 0L, 0), (call.Pid, call.Ret, call.Errno));
        Assert.Equal([1], call.Status);
        Assert.Equal([1, 1], Report.ResponseQueries["after_other"].Status);
        Assert.Equal(0, CapturedCall("other_cross", pid).ReturnValue);
        Assert.Equal("other", CapturedCall("other_cross", pid).Comm);
        // Only the matching calls were judged: not this one, nor pid 1's queries (flags 0).
        Assert.Equal(["init_self", "init_cross", "child_self", "child_cross", "compat_move"],
            Report.ResponseRecords.Select(r => r.Scenario));
    }

    [GuestFact]
    public void A_32_bit_caller_matching_the_compat_policy_is_killed_by_the_compat_program_before_it_prints()
    {
        var (pid, exit) = Exit("compat_move");

        Assert.Equal($"signal={SigKill}", exit);
        Assert.False(Report.ResponseCalls.ContainsKey("compat_move"), "the killed 32-bit helper printed its result");
        var judged = ResponseOf("compat_move");
        Assert.Equal((pid, true, "move_pages32", 1u), (judged.Pid, judged.Compat, judged.Comm, judged.Rule));
        Assert.Equal((ResponseKind.Kill, ResponseResult.Signalled), (judged.Action, judged.Result));
        Assert.True(CapturedCall("compat_move", pid).Compat);
    }

    [GuestFact]
    public void Debians_kernel_has_no_kprobe_override_and_its_verifier_refuses_the_override_path()
    {
        var config = File.ReadAllLines(guest.Image.Config);
        Assert.True(!config.Contains("CONFIG_BPF_KPROBE_OVERRIDE=y"),
            "this kernel has CONFIG_BPF_KPROBE_OVERRIDE now: attach response_deny in the guest and prove the override path");
        // BPF_KPROBE_OVERRIDE depends on FUNCTION_ERROR_INJECTION, which Debian leaves off.
        Assert.Contains("# CONFIG_FUNCTION_ERROR_INJECTION is not set", config);

        Assert.Equal("kprobe-override error Invalid argument", Report.Single("resp-verify"));
        Assert.Contains("unknown func bpf_override_return#58", Report.All("resp-verifier"));
    }
}
