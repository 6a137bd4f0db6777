namespace Sentinel.Simulate.Scenarios;

/// <summary>What a NUMA-aware program does every day: move its own pages to a node that exists. Fires nothing.</summary>
internal sealed class Benign : Scenario
{
    public override string Name => "benign";
    public override string? RuleId => null;
    public override string Description => "a normal self migration of 4 resident pages to node 0 (MPOL_MF_MOVE)";

    public override ScenarioResult Run(SimulationContext context)
    {
        using var mapping = new Syscalls.Mapping(4);
        var call = Syscalls.MovePages(0, mapping.PageAddresses(), node: 0, flags: 2);
        return new ScenarioResult
        {
            Scenario = Name, ExpectedRules = ExpectedRules,
            CallerPid = Environment.ProcessId, TargetPid = Environment.ProcessId, PidArgument = 0,
            Results = { call.Describe() },
        };
    }
}
