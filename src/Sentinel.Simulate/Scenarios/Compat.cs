namespace Sentinel.Simulate.Scenarios;

/// <summary>A 32-bit process calls move_pages through the compat entry (i386 number 317).</summary>
internal sealed class Compat : Scenario
{
    public override string Name => "compat";
    public override string? RuleId => RuleIds.Compat;
    public override string Description => "the 32-bit helper (gcc -m32) migrates its own pages through the compat syscall";

    public override ScenarioResult Run(SimulationContext context)
    {
        var helper = context.Start(context.Helper("move_pages32"), "--flags", "2", "--node", "0");
        var output = helper.StandardOutput.ReadToEnd();
        helper.WaitForExit();
        if (helper.ExitCode != 0)
            throw new SimulationException($"move_pages32 exited {helper.ExitCode}: {helper.StandardError.ReadToEnd().Trim()}");
        var call = HelperRun.Parse(output).Calls.Single();
        return new ScenarioResult
        {
            Scenario = Name, ExpectedRules = ExpectedRules,
            CallerPid = helper.Id, TargetPid = helper.Id, PidArgument = 0,
            Results = { call.Describe() },
        };
    }
}
