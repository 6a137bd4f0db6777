using System.Diagnostics;
using System.Text.Json;
using Sentinel.Rules.Runtime;
using Sentinel.TestSupport;
using Xunit.Abstractions;

namespace Sentinel.Rules.Tests;

/// <summary>
/// Runs every hostile rule of tests/Sentinel.Rules.Tests/Hostile (one .csx per case) beside the built-in pack,
/// each in its own child process over the same synthetic events, and the pack alone once. Each case must
/// finish (no hang), exit cleanly (no crash), peak within +256 MB RSS of the pack alone, leave the pack's
/// detections identical, and end as its header says (quarantined, rejected or running within limits).
/// </summary>
public sealed class HostileCatalogue
{
    public const int Events = 2000;
    public const long MaxRssDeltaKb = 256 * 1024;
    // Generous: a batch compiles several rules with Roslyn, and CI machines are shared.
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    public static string Directory => Path.Combine(RepoPaths.Root, "tests", "Sentinel.Rules.Tests", "Hostile");

    public static IEnumerable<string> Cases() =>
        System.IO.Directory.GetFiles(Directory, "*.csx").Select(Path.GetFileNameWithoutExtension).Order()!;

    /// <summary>
    /// Cases run in batches of one category (memory, time, output, state, exceptions; the reload case alone),
    /// each batch in one child process: a batch's peak within +256 MB of the pack alone bounds each of its
    /// cases, and a few children keep the suite to minutes. SENTINEL_HOSTILE_ISOLATED=1 runs one child per case
    /// instead, for per-case figures.
    /// </summary>
    public static bool Isolated => Environment.GetEnvironmentVariable("SENTINEL_HOSTILE_ISOLATED") == "1";

    private readonly Lazy<Dictionary<string, (HostileReport? Report, string Error, string Id)>> _results = new(RunAll);

    public (HostileReport? Report, string Error, string Id) Result(string name) => _results.Value[name];

    /// <summary>The pack alone (plus an inert rule, so both runs compile with Roslyn).</summary>
    public HostileReport Baseline => _results.Value[""].Report ?? throw new InvalidOperationException(_results.Value[""].Error);

    private static readonly string Cache = Path.Combine(Path.GetTempPath(), "sentinel-hostile-cache-" + Guid.NewGuid().ToString("N"));

    private static Dictionary<string, (HostileReport?, string, string)> RunAll()
    {
        var results = new System.Collections.Concurrent.ConcurrentDictionary<string, (HostileReport?, string, string)>();
        var cases = Cases().ToArray();
        var batches = Isolated || cases.Length == 0
            ? cases.Select(c => new[] { c }).ToArray()
            : cases.GroupBy(c => c.StartsWith("reload", StringComparison.Ordinal) ? c : c.Split('-')[0]).Select(g => g.ToArray()).ToArray();
        try
        {
            // The pack comes from the compile cache in every run (a first run fills it), and each run compiles its
            // other rules with Roslyn: the baseline's inert rule is made unique per run so that it is compiled too.
            Run([]);
            var (baseline, baselineError, _) = Run([]);
            results[""] = (baseline, baselineError, "");
            // Two at a time: the machine's two cores, without one batch's peak crowding another's out of memory.
            Parallel.ForEach(batches, new ParallelOptions { MaxDegreeOfParallelism = 2 }, batch =>
            {
                var (report, error, ids) = Run(batch);
                for (var i = 0; i < batch.Length; i++) results[batch[i]] = (report, error, ids[i]);
            });
        }
        finally
        {
            try { System.IO.Directory.Delete(Cache, recursive: true); } catch (IOException) { }
        }
        return new Dictionary<string, (HostileReport?, string, string)>(results);
    }

    private static (HostileReport?, string, string[]) Run(string[] batch)
    {
        var work = Path.Combine(Path.GetTempPath(), "sentinel-hostile-" + Guid.NewGuid().ToString("N"));
        var rules = Path.Combine(work, "rules");
        System.IO.Directory.CreateDirectory(rules);
        // Each case's rule gets its own id within the batch.
        var ids = batch.Select(c => $"SNT-{9100 + Array.IndexOf(Cases().ToArray(), c)}").ToArray();
        try
        {
            foreach (var file in System.IO.Directory.GetFiles(RepoPaths.Rules, "*.csx"))
                File.Copy(file, Path.Combine(rules, Path.GetFileName(file)));
            if (batch.Length == 0) File.WriteAllText(Path.Combine(rules, "zz-inert.csx"), Inert + "// " + Guid.NewGuid());
            for (var i = 0; i < batch.Length; i++)
                File.WriteAllText(Path.Combine(rules, "zz-" + batch[i] + ".csx"), Source(batch[i], ids[i]));
            var args = new List<string> { typeof(HostileChild).Assembly.Location, HostileChild.Verb, rules, Events.ToString(), Cache };
            var variants = batch.Length == 1 ? System.IO.Directory.GetFiles(Directory, batch[0] + ".v*.txt").Order().ToArray() : [];
            if (variants.Length > 0)
            {
                var variantDir = Path.Combine(work, "variants");
                System.IO.Directory.CreateDirectory(variantDir);
                File.WriteAllText(Path.Combine(variantDir, "0"), Source(batch[0], ids[0]));
                for (var i = 0; i < variants.Length; i++)
                    File.WriteAllText(Path.Combine(variantDir, (i + 1).ToString()), File.ReadAllText(variants[i]).Replace("SNT-9100", ids[0]));
                args.Add(Path.Combine(rules, "zz-" + batch[0] + ".csx"));
                args.Add(variantDir);
            }
            using var child = new ChildProcess("dotnet", args, "hostile child");
            child.CloseInput();
            int exit;
            try
            {
                exit = child.WaitForExit(Timeout); // killed, with its tree, when it runs over
            }
            catch (WaitFailedException)
            {
                return (null, $"hung: [{string.Join(", ", batch)}] still running after {Timeout.TotalSeconds} s", ids);
            }
            if (exit != 0)
                return (null, $"crashed: [{string.Join(", ", batch)}] exit code {exit}; stderr: {Tail(child.Stderr)}", ids);
            return (JsonSerializer.Deserialize<HostileReport>(child.Stdout), child.Stderr, ids);
        }
        finally
        {
            try { System.IO.Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    private static string Source(string name, string id) =>
        File.ReadAllText(Path.Combine(Directory, name + ".csx")).Replace("SNT-9100", id);

    private static string Tail(string text) => text.Length <= 2000 ? text : text[^2000..];

    private const string Inert = """
        public sealed class Inert : Rule
        {
            public override RuleInfo Info { get; } = new()
            {
                Id = "SNT-9100", Version = "1.0.0", Name = "inert", Description = "never fires",
                Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
            };

            public override void Match(MovePagesEvent e, Findings findings)
            {
                if (e.Pid < 0) findings.Add("never " + e.Comm);
            }
        }
        """;
}

/// <summary>The catalogue's children use both cores: run alone, so timed-out CLI tests elsewhere do not follow.</summary>
[CollectionDefinition(nameof(HostileRuleTests), DisableParallelization = true)]
public sealed class HostileCollection;

[Collection(nameof(HostileRuleTests))]
public sealed class HostileRuleTests(HostileCatalogue catalogue, ITestOutputHelper output) : IClassFixture<HostileCatalogue>
{
    public static TheoryData<string> Cases() => [.. HostileCatalogue.Cases()];

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_hostile_rule_beside_the_pack_is_contained(string name)
    {
        var (report, error, id) = catalogue.Result(name);
        Assert.True(report is not null, $"{name}: {error}");
        var baseline = catalogue.Baseline;
        var header = File.ReadLines(Path.Combine(HostileCatalogue.Directory, name + ".csx")).ToArray();
        var expect = header.Single(l => l.StartsWith("// expect: ", StringComparison.Ordinal))["// expect: ".Length..];
        var state = report.Other.SingleOrDefault(o => o.Id == id);
        var delta = report.PeakRssKb - baseline.PeakRssKb;
        output.WriteLine($"{name} ({(HostileCatalogue.Isolated ? "alone" : "in its batch")}): peak RSS {report.PeakRssKb / 1024} MB, pack alone {baseline.PeakRssKb / 1024} MB, " +
                         $"delta {delta / 1024} MB; {report.ElapsedMs} ms; reloads {report.Reloads}; " +
                         $"state {JsonSerializer.Serialize(state)}; diagnostics {string.Join(" | ", report.Diagnostics)}");

        Assert.True(delta <= HostileCatalogue.MaxRssDeltaKb, $"{name}: peak RSS {delta / 1024} MB above the pack alone");
        Assert.True(baseline.PackDetections.Count > 1000, "the synthetic events should fire the pack");
        Assert.Equal(baseline.PackDetections, report.PackDetections);

        var (fate, reason) = (expect.Split(' ', 2)[0], expect.Split(' ', 2).ElementAtOrDefault(1) ?? "");
        switch (fate)
        {
            case "quarantined":
                Assert.True(state is { Quarantined: true }, $"{name}: not quarantined: {JsonSerializer.Serialize(state)}");
                Assert.Contains(reason, state.Reason);
                break;
            case "rejected":
                Assert.Null(state);
                Assert.Contains(report.Diagnostics, d => d.Contains(reason, StringComparison.Ordinal));
                break;
            case "running":
                Assert.True(state is { Quarantined: false }, $"{name}: {JsonSerializer.Serialize(state)}");
                Assert.True(state.Detections > 0 || reason == "reloaded");
                Assert.InRange(state.LongestMessage, 0, OutputLimits.Default.MaxMessageChars + 40);
                Assert.InRange(state.MostFields, 0, OutputLimits.Default.MaxFields + 1);
                if (reason == "truncated") Assert.True(state.LongestMessage > 4000 || state.MostFields > 30);
                if (reason == "rate-limited") Assert.True(state.RateLimited > 0);
                if (reason == "reloaded") Assert.True(report.Reloads >= 10, $"only {report.Reloads} reloads");
                break;
            default:
                Assert.Fail($"{name}: unknown expectation '{expect}'");
                break;
        }
    }
}
