namespace Sentinel.Simulate.Scenarios;

/// <summary>Moves pages of a victim child: the pid argument names another process.</summary>
internal sealed class CrossProcess : Scenario
{
    public override string Name => "cross-process";
    public override string? RuleId => RuleIds.CrossProcess;
    public override string Description => "spawn a victim child and move its pages to node 0 (MPOL_MF_MOVE)";

    public override ScenarioResult Run(SimulationContext context)
    {
        var victim = context.Start("sleep", "60");
        SimulationContext.WaitUntilRunning(victim.Id, "sleep");
        var call = Syscalls.MovePages(victim.Id, SimulationContext.PagesOf(victim.Id, 4), node: 0, flags: 2);
        return new ScenarioResult
        {
            Scenario = Name, ExpectedRules = ExpectedRules,
            CallerPid = Environment.ProcessId, TargetPid = victim.Id, PidArgument = victim.Id,
            CallerUid = SimulationContext.ReadUid(Environment.ProcessId) ?? 0,
            TargetUid = SimulationContext.ReadUid(victim.Id) ?? 0,
            Results = { call.Describe() },
        };
    }
}
