namespace Sentinel.Simulate.Scenarios;

/// <summary>The caller runs in new mount and pid namespaces (unshare), as a container's process would.</summary>
internal sealed class Container : Scenario
{
    public override string Name => "container";
    public override string? RuleId => RuleIds.Container;
    public override bool NeedsRoot => true;
    public override string Description => "a helper in new mount and pid namespaces (unshare --mount --pid --fork) migrates its own pages";

    public override ScenarioResult Run(SimulationContext context)
    {
        // --mount-proc gives the helper a /proc of its own namespace; the host's is untouched.
        var run = context.Run("unshare", "--mount", "--pid", "--fork", "--mount-proc", "--",
            context.Helper("move_pages64"), "--flags", "2", "--node", "0");
        var call = run.Calls.Single();
        return new ScenarioResult
        {
            Scenario = Name, ExpectedRules = ExpectedRules,
            // The helper is pid 1 in its namespace: its host pid is not visible from inside.
            CallerPid = 0, TargetPid = 0, PidArgument = 0,
            Results = { call.Describe() },
            Note = $"the helper saw itself as pid {call.Pid}",
        };
    }
}
