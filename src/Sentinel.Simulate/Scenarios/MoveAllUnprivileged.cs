namespace Sentinel.Simulate.Scenarios;

/// <summary>A child switched to nobody (so it has no CAP_SYS_NICE) asks for MPOL_MF_MOVE_ALL on itself: EPERM.</summary>
internal sealed class MoveAllUnprivileged : Scenario
{
    public override string Name => "move-all-unprivileged";
    public override string? RuleId => RuleIds.MoveAllUnprivileged;
    public override bool NeedsRoot => true;
    public override string Description => "a child running as nobody (no CAP_SYS_NICE) calls move_pages with MPOL_MF_MOVE_ALL";

    public override ScenarioResult Run(SimulationContext context)
    {
        var helper = context.HelperForAnyUser("move_pages64");
        var run = context.Run("setpriv", [.. SetprivNobody.Args, "--", helper, "--flags", "4", "--node", "0"]);
        var call = run.Calls.Single();
        return new ScenarioResult
        {
            Scenario = Name, ExpectedRules = ExpectedRules,
            CallerPid = call.Pid, TargetPid = call.Pid, PidArgument = 0,
            CallerUid = SimulationContext.Nobody, TargetUid = SimulationContext.Nobody,
            Results = { call.Describe() },
        };
    }
}

internal static class SetprivNobody
{
    /// <summary>setpriv arguments that make the command run as nobody:nogroup with no capabilities left.</summary>
    public static readonly string[] Args =
        ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"];
}
