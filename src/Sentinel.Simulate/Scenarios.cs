using Sentinel.Simulate.Scenarios;

namespace Sentinel.Simulate;

/// <summary>The ids of the built-in rules (rules/snt-000N-*.csx) the scenarios fire.</summary>
public static class RuleIds
{
    public const string CrossProcess = "SNT-0001";
    public const string MoveAllUnprivileged = "SNT-0002";
    public const string QueryModeProbe = "SNT-0003";
    public const string Toctou = "SNT-0004";
    public const string FailureBurst = "SNT-0005";
    public const string Container = "SNT-0006";
    public const string Compat = "SNT-0007";
    public const string BadNode = "SNT-0008";
}

/// <summary>Every scenario `sentinel simulate` knows, one per built-in rule plus a benign one.</summary>
public static class ScenarioCatalog
{
    public static IReadOnlyList<Scenario> All { get; } =
    [
        new CrossProcess(),
        new MoveAllUnprivileged(),
        new CrossUserProbe(),
        new Toctou(),
        new FailureBurst(),
        new Container(),
        new Compat(),
        new BadNode(),
        new Benign(),
    ];

    public static Scenario? Find(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));
}
