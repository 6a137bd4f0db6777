using Sentinel.Simulate;
using Sentinel.TestSupport;

namespace Sentinel.Simulate.Tests;

/// <summary>Each scenario makes the real calls and gets the kernel answer its rule is about, and leaves nothing behind.</summary>
public class ScenarioRunTests
{
    private static ScenarioResult Run(string name)
    {
        using var context = new SimulationContext(TextWriter.Null);
        return ScenarioCatalog.Find(name)!.Run(context);
    }

    private static bool Alive(int pid) => pid > 0 && Directory.Exists($"/proc/{pid}") &&
                                          !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ");

    [LiveFact]
    public void Cross_process_moves_a_victim_s_pages_then_reaps_it()
    {
        var r = Run("cross-process");
        Assert.NotEqual(r.CallerPid, r.TargetPid);
        Assert.Equal(r.TargetPid, r.PidArgument);
        Assert.DoesNotContain("ESRCH", r.Results);
        Assert.DoesNotContain("EPERM", r.Results);
        Assert.False(Alive(r.TargetPid));
    }

    [LiveFact]
    public void Move_all_without_cap_sys_nice_gets_eperm() =>
        Assert.Equal(["EPERM"], Run("move-all-unprivileged").Results);

    [LiveFact]
    public void Cross_user_probe_targets_a_process_of_another_uid_in_query_mode()
    {
        var r = Run("cross-user-probe");
        Assert.Equal(SimulationContext.Nobody, r.TargetUid);
        Assert.NotEqual(r.CallerUid, r.TargetUid);
        Assert.Single(r.Results);
        Assert.DoesNotContain("ESRCH", r.Results);
        Assert.False(Alive(r.TargetPid));
    }

    [LiveFact]
    public void Toctou_calls_complete() => Assert.All(Run("toctou").Results, x => Assert.StartsWith("ret=", x));

    [LiveFact]
    public void Burst_fails_with_esrch_at_least_the_rule_threshold()
    {
        var r = Run("burst");
        Assert.True(r.Results.Count >= 5);
        Assert.All(r.Results, x => Assert.Equal("ESRCH", x));
    }

    [LiveFact]
    public void Container_caller_runs_as_pid_1_of_a_new_pid_namespace()
    {
        var r = Run("container");
        Assert.Equal("the helper saw itself as pid 1", r.Note);
        Assert.StartsWith("ret=", Assert.Single(r.Results));
    }

    [LiveFact]
    public void Compat_helper_succeeds() => Assert.StartsWith("ret=", Assert.Single(Run("compat").Results));

    [LiveFact]
    public void Bad_node_gets_enodev() => Assert.Equal(["ENODEV"], Run("bad-node").Results);

    [LiveFact]
    public void Benign_self_migration_succeeds() => Assert.Equal(["ret=0"], Run("benign").Results);
}
