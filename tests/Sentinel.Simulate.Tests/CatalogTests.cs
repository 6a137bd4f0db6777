using System.Text.RegularExpressions;
using Sentinel.Simulate;
using Sentinel.TestSupport;

namespace Sentinel.Simulate.Tests;

public partial class CatalogTests
{
    [GeneratedRegex("""Id\s*=\s*"(SNT-\d{4})"\s*,""")]
    private static partial Regex RuleIdPattern();

    /// <summary>The id each rule file declares, by file.</summary>
    private static Dictionary<string, string> BuiltInRules() => Directory.GetFiles(RepoPaths.Rules, "*.csx")
        .ToDictionary(Path.GetFileName, f => RuleIdPattern().Match(File.ReadAllText(f)).Groups[1].Value)!;

    [Fact]
    public void Every_built_in_rule_has_exactly_one_scenario_and_every_scenario_names_a_real_rule()
    {
        var ruleIds = BuiltInRules().Values.ToHashSet();
        Assert.Equal(8, ruleIds.Count);
        var primary = ScenarioCatalog.All.Where(s => s.RuleId is not null).Select(s => s.RuleId!).ToList();
        Assert.Equal(ruleIds.Order(), primary.Order());
        foreach (var scenario in ScenarioCatalog.All)
            Assert.All(scenario.ExpectedRules, id => Assert.Contains(id, ruleIds));
    }

    [Fact]
    public void Exactly_one_benign_scenario_and_names_are_unique()
    {
        Assert.Single(ScenarioCatalog.All, s => s.ExpectedRules.Count == 0);
        Assert.Equal(ScenarioCatalog.All.Count, ScenarioCatalog.All.Select(s => s.Name).Distinct().Count());
        Assert.Same(ScenarioCatalog.All[0], ScenarioCatalog.Find(ScenarioCatalog.All[0].Name.ToUpperInvariant()));
        Assert.Null(ScenarioCatalog.Find("no-such-scenario"));
    }

    [Theory]
    [InlineData("cross-process", "SNT-0001")]
    [InlineData("move-all-unprivileged", "SNT-0002")]
    [InlineData("cross-user-probe", "SNT-0003")]
    [InlineData("toctou", "SNT-0004")]
    [InlineData("burst", "SNT-0005")]
    [InlineData("container", "SNT-0006")]
    [InlineData("compat", "SNT-0007")]
    [InlineData("bad-node", "SNT-0008")]
    public void Scenario_maps_to_the_rule_file_of_its_pattern(string scenario, string ruleId)
    {
        Assert.Equal(ruleId, ScenarioCatalog.Find(scenario)!.RuleId);
        Assert.Contains(BuiltInRules(), kv => kv.Value == ruleId && kv.Key.StartsWith(ruleId.ToLowerInvariant() + "-", StringComparison.Ordinal));
    }

    [Fact]
    public void Helper_output_parses()
    {
        var run = HelperRun.Parse("ret=-1 errno=1 status=2139062143 pages=0x5555 pid=4242\nnoise\nret=0 errno=0 status=0,0 pages=0x1 pid=7\n");
        Assert.Equal(2, run.Calls.Count);
        Assert.Equal(new HelperCall(-1, 1, 4242), run.Calls[0]);
        Assert.Equal("EPERM", run.Calls[0].Describe());
        Assert.Equal("ret=0", run.Calls[1].Describe());
    }

    [Fact]
    public void Result_round_trips_through_json()
    {
        var result = new ScenarioResult
        {
            Scenario = "x", ExpectedRules = ["SNT-0001"], CallerPid = 1, TargetPid = 2, PidArgument = 2,
            CallerUid = 0, TargetUid = 65534, Results = { "EPERM" }, Note = "n",
        };
        var back = ScenarioResult.FromJson(result.ToJson())!;
        Assert.Equal(result.ToJson(), back.ToJson());
        Assert.Equal(["EPERM"], back.Results);
    }
}
