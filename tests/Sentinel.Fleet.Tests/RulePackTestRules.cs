using Sentinel.TestSupport;

namespace Sentinel.Fleet.Tests;

/// <summary>Rule directories for the rule-pack tests: a built-in rule, a new one, broken ones.</summary>
internal static class RulePackTestRules
{
    public const string NewRuleId = "SNT-0901";
    /// <summary>The new rule fires on a query-mode call over exactly this many pages: `move_pages64 --query --pages 13`.</summary>
    public const int NewRulePages = 13;

    /// <summary>A directory with SNT-0002 (MOVE_ALL without CAP_SYS_NICE) and its fixtures, copied from rules/.</summary>
    public static string BaseDirectory()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-pack-").FullName;
        foreach (var file in Directory.EnumerateFiles(RepoPaths.Rules, "snt-0002-*"))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        return dir;
    }

    /// <summary><see cref="BaseDirectory"/> plus SNT-0901 with passing fixtures (or, with <paramref name="wrongFixture"/>, a failing one).</summary>
    public static string WithNewRule(bool wrongFixture = false)
    {
        var dir = BaseDirectory();
        File.WriteAllText(Path.Combine(dir, "snt-0901-thirteen-page-query.csx"), NewRule);
        File.WriteAllLines(Path.Combine(dir, "snt-0901-thirteen-page-query.fixtures.jsonl"),
            [Fixture("13-page query", fires: !wrongFixture, pages: NewRulePages), Fixture("4-page query", fires: false, pages: 4)]);
        return dir;
    }

    /// <summary>A rule that does not compile.</summary>
    public const string BrokenRule = "// SNT-0902: does not compile.\npublic sealed class Broken : Rule { this is not C# }\n";

    private const string NewRule = """
        // SNT-0901: a rule pushed to the fleet, new to every agent.
        public sealed class ThirteenPageQuery : Rule
        {
            public override RuleInfo Info { get; } = new()
            {
                Id = "SNT-0901",
                Version = "1.0.0",
                Name = "Thirteen-page layout query",
                Description = "A query-mode call over exactly 13 pages: the marker the fleet rollout test makes.",
                Severity = Severity.Low,
                MitreTactics = ["TA0007"],
                MitreTechniques = ["T1057"],
                Tags = ["move_pages", "fleet-test"],
                Events = ["move_pages"],
            };

            public override void Match(MovePagesEvent e, Findings findings)
            {
                if (!e.IsQueryMode || e.Count != 13) return;
                findings.Add($"{e.Comm} ({e.Pid}) queried 13 pages", ("pages", e.Count));
            }
        }
        """;

    private static string Fixture(string name, bool fires, int pages) =>
        $$$"""{"case":"{{{name}}}","fires":{{{(fires ? "true" : "false")}}},"event":{"name":"move_pages","time":"2026-03-01T10:00:00Z","context":{"pid":4242,"tid":4242,"ppid":1,"uid":1000,"euid":1000,"gid":1000,"capEffective":"0","comm":"numactl","mountNamespace":"4026531840","pidNamespace":"4026531836"},"strategy":"ATTACH_STRATEGY_TRACEPOINT","args":[{"name":"pid","intValue":"0"},{"name":"count","uintValue":"{{{pages}}}"},{"name":"pages","pointer":"139637976731648"},{"name":"nodes","pointer":"0"},{"name":"status","pointer":"139637976739840"},{"name":"flags","intValue":"0"},{"name":"return","intValue":"0"}],"returnValue":"0"}}""";
}
