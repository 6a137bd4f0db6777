using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sentinel.Rules;

/// <summary>`sentinel rules new NAME`: a rule and a fixture file that pass lint and test as written.</summary>
public static partial class RuleScaffold
{
    /// <summary>Custom rules number from here, apart from the built-in pack.</summary>
    public const int FirstCustomId = 1001;

    public sealed record Result(string RuleId, string RuleFile, string FixtureFile);

    public static Result Create(string directory, string name)
    {
        if (!NamePattern().IsMatch(name))
            throw new ArgumentException($"rule name '{name}' must be kebab-case letters and digits, e.g. large-migration");
        Directory.CreateDirectory(directory);
        var number = NextNumber(directory);
        var id = $"SNT-{number:D4}";
        var ruleFile = Path.Combine(directory, $"snt-{number:D4}-{name}.csx");
        var fixtureFile = RuleDirectories.FixturePath(ruleFile);
        if (File.Exists(ruleFile) || File.Exists(fixtureFile))
            throw new IOException($"{ruleFile} already exists");
        File.WriteAllText(ruleFile, RuleSource(id, name));
        File.WriteAllText(fixtureFile, FixtureLine("a 4096-page request fires", true, 4096) + "\n" +
                                       FixtureLine("a one-page request does not", false, 1) + "\n");
        return new Result(id, ruleFile, fixtureFile);
    }

    private static int NextNumber(string directory)
    {
        var used = Directory.EnumerateFiles(directory, "*.csx")
            .Select(f => IdPattern().Match(RuleFileText.Read(f)))
            .Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        return Math.Max(FirstCustomId - 1, used.DefaultIfEmpty(0).Max()) + 1;
    }

    private static string RuleSource(string id, string name)
    {
        var className = string.Concat(name.Split('-').Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
        var title = char.ToUpperInvariant(name[0]) + name[1..].Replace('-', ' ');
        return $$"""
            // {{id}}: {{title}}. See docs/RULES.md for the API and the sandbox.
            public sealed class {{className}} : Rule
            {
                public override RuleInfo Info { get; } = new()
                {
                    Id = "{{id}}",
                    Version = "0.1.0",
                    Name = "{{title}}",
                    Description = "Explain what the rule detects, and why its severity and MITRE mapping fit.",
                    Severity = Severity.Low,
                    MitreTactics = ["TA0007"],
                    MitreTechniques = ["T1057"],
                    Tags = ["move_pages", "custom"],
                    Events = ["move_pages"],
                };

                public override void Match(MovePagesEvent e, Findings findings)
                {
                    // Example: an unusually large request. Replace with your logic, then update the fixtures.
                    if (e.Count <= 1024) return;
                    findings.Add($"{e.Comm} ({e.Pid}) asked to move {e.Count} pages", ("count", e.Count));
                }
            }

            """;
    }

    // Partial events: a case states only what it is about, the rest takes the fixture defaults.
    private static string FixtureLine(string caseName, bool fires, ulong count) =>
        $"{{\"case\":{JsonSerializer.Serialize(caseName)},\"fires\":{(fires ? "true" : "false")},\"event\":" +
        $"{{\"context\":{{\"comm\":\"numactl\"}},\"args\":[{{\"name\":\"count\",\"uintValue\":\"{count}\"}}]}}}}";

    [GeneratedRegex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"Id\s*=\s*""SNT-(\d{4})""")]
    private static partial Regex IdPattern();
}
