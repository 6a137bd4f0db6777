namespace Sentinel.Simulate.Scenarios;

/// <summary>A scan: many calls on a pid that does not exist, each failing with ESRCH, in well under a second.</summary>
internal sealed class FailureBurst : Scenario
{
    private const int Calls = 8; // the rule's default threshold is 5 in 10 s

    public override string Name => "burst";
    public override string? RuleId => RuleIds.FailureBurst;
    /// <summary>A call naming another pid is cross-process, whether or not the pid exists.</summary>
    public override IReadOnlyList<string> AlsoFires => [RuleIds.CrossProcess];
    public override string Description => $"{Calls} move_pages calls on a pid no process has (ESRCH) in a burst";

    public override ScenarioResult Run(SimulationContext context)
    {
        using var mapping = new Syscalls.Mapping(1);
        var pid = SimulationContext.UnusedPid();
        var result = new ScenarioResult
        {
            Scenario = Name, ExpectedRules = ExpectedRules,
            CallerPid = Environment.ProcessId, TargetPid = 0, PidArgument = pid,
        };
        for (var i = 0; i < Calls; i++)
            result.Results.Add(Syscalls.MovePages(pid, mapping.PageAddresses(), node: 0, flags: 2).Describe());
        return result;
    }
}
