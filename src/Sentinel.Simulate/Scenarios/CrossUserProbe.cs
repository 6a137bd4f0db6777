namespace Sentinel.Simulate.Scenarios;

/// <summary>
/// CVE-2017-14140's pattern: query mode (nodes == NULL) against a process of another uid, to learn its layout.
/// The kernel may refuse with EPERM; the attempt is the signal.
/// </summary>
internal sealed class CrossUserProbe : Scenario
{
    public override string Name => "cross-user-probe";
    public override string? RuleId => RuleIds.QueryModeProbe;
    /// <summary>Naming another process is cross-process by definition.</summary>
    public override IReadOnlyList<string> AlsoFires => [RuleIds.CrossProcess];
    public override bool NeedsRoot => true;
    public override string Description => "a victim running as nobody, probed in query mode (nodes = NULL) for its page layout";

    public override ScenarioResult Run(SimulationContext context)
    {
        var victim = context.Start("setpriv", [.. SetprivNobody.Args, "--", "sleep", "60"]);
        SimulationContext.WaitUntilRunning(victim.Id, "sleep", SimulationContext.Nobody);
        var call = Syscalls.MovePages(victim.Id, SimulationContext.PagesOf(victim.Id, 8), node: null, flags: 0);
        return new ScenarioResult
        {
            Scenario = Name, ExpectedRules = ExpectedRules,
            CallerPid = Environment.ProcessId, TargetPid = victim.Id, PidArgument = victim.Id,
            CallerUid = SimulationContext.ReadUid(Environment.ProcessId) ?? 0, TargetUid = SimulationContext.Nobody,
            Results = { call.Describe() },
        };
    }
}
