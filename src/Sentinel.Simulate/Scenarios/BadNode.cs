namespace Sentinel.Simulate.Scenarios;

/// <summary>CVE-2010-0415's pattern: a node id far beyond any NUMA node; the kernel answers ENODEV.</summary>
internal sealed class BadNode : Scenario
{
    public const int Node = 1 << 20;

    public override string Name => "bad-node";
    public override string? RuleId => RuleIds.BadNode;
    public override string Description => $"a self migration to node {Node}, out of range (ENODEV)";

    public override ScenarioResult Run(SimulationContext context)
    {
        using var mapping = new Syscalls.Mapping(2);
        var call = Syscalls.MovePages(0, mapping.PageAddresses(), Node, flags: 2);
        return new ScenarioResult
        {
            Scenario = Name, ExpectedRules = ExpectedRules,
            CallerPid = Environment.ProcessId, TargetPid = Environment.ProcessId, PidArgument = 0,
            Results = { call.Describe() },
        };
    }
}
