using System.Diagnostics;
using System.Text.Json.Nodes;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.TestSupport;

namespace Sentinel.Cli.Tests;

/// <summary>`replay` as an analyst runs it: folded bursts, the pretty block, colour only on a terminal.</summary>
public sealed class AnalystOutputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sentinel-analyst-").FullName;

    private const string FoldingRule = """
        // SNT-9001: every MOVE_ALL call, folded per calling process for ten seconds.
        public sealed class FoldedMoveAll : Rule
        {
            public override RuleInfo Info { get; } = new()
            {
                Id = "SNT-9001",
                Version = "1.0.0",
                Name = "MOVE_ALL calls",
                Description = "Every MOVE_ALL call, folded per calling process for ten seconds.",
                Severity = Severity.High,
                MitreTactics = ["TA0005", "TA0004"],
                MitreTechniques = ["T1055"],
                Events = ["move_pages"],
                FoldKey = "pid",
                FoldWindow = TimeSpan.FromSeconds(10),
            };

            public override void Match(MovePagesEvent e, Findings findings)
            {
                if (e.HasFlag(MoveFlags.MoveAll)) findings.Add($"{e.Comm} ({e.Pid}) used MOVE_ALL", ("cross_user", false), ("probe", true));
            }
        }
        """;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A burst: pid 100 at 0-4 s (5 calls), pid 200 at 1 s, pid 100 again at 12 s, after its window.</summary>
    private (string Rules, string Events) Burst()
    {
        var rules = Directory.CreateDirectory(Path.Combine(_dir, "rules")).FullName;
        File.WriteAllText(Path.Combine(rules, "snt-9001-folded.csx"), FoldingRule);
        var t0 = DateTimeOffset.Parse("2026-03-01T10:00:00Z");
        var lines = new[] { (0, 100), (1, 100), (1, 200), (2, 100), (3, 100), (4, 100), (12, 100) }.Select(c =>
        {
            var e = new MovePagesEvent
            {
                TimeUnixNs = t0.AddSeconds(c.Item1).ToUnixTimeMilliseconds() * 1_000_000, Pid = c.Item2, Tid = c.Item2, Ppid = 1,
                Uid = 1000, Euid = 1000, Comm = "numactl", Flags = 4, ReturnValue = -1, Count = 1, NodesAddress = 0x1000,
            };
            return EventJson.Format(e);
        });
        var events = Path.Combine(_dir, "burst.jsonl");
        File.WriteAllLines(events, lines);
        return (rules, events);
    }

    [Fact]
    public void A_burst_folds_into_one_detection_and_a_summary_whose_counts_add_up()
    {
        var (rules, events) = Burst();
        var (code, stdout, stderr) = SentinelProcess.Run("replay", events, "--rules", rules, "--format", "json");
        Assert.True(code == 1, stderr);
        var detections = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        // pid 100 first (at once), pid 200, the pid 100 summary (4 repeats, closed by the 12 s call), pid 100 again.
        Assert.Equal(["100:1", "200:1", "100:4", "100:1"],
            detections.Select(d => $"{d["event"]!["context"]!["pid"]}:{(int?)d["foldCount"] ?? 1}"));
        Assert.Equal("2026-03-01T10:00:01Z", (string)detections[2]["firstTime"]!);
        Assert.Equal("2026-03-01T10:00:04Z", (string)detections[2]["lastTime"]!);
        Assert.Equal(7, detections.Sum(d => (int?)d["foldCount"] ?? 1)); // nothing hidden: 7 calls, 7 counted
        Assert.Equal("Every MOVE_ALL call, folded per calling process for ten seconds.", (string)detections[0]["ruleDescription"]!);
    }

    [Fact]
    public void Pretty_off_a_terminal_is_plain_text_read_at_a_glance()
    {
        var (rules, events) = Burst();
        var (_, stdout, _) = SentinelProcess.Run("replay", events, "--rules", rules);
        Assert.DoesNotContain('\u001b', stdout);
        var blocks = stdout.Split("\n2026-").Length;
        Assert.Equal(4, blocks);
        Assert.StartsWith("2026-03-01 10:00:00.000Z  HIGH  SNT-9001 MOVE_ALL calls\n", stdout);
        Assert.Contains("  who   uid 1000", stdout);
        Assert.Contains("numactl[100]  ← ppid 1\n", stdout);
        Assert.Contains("  what  self  MOVE_ALL  1 page  → EPERM (-1)\n", stdout);
        Assert.Contains("  also  probe\n", stdout);                 // true shows the key, false shows nothing
        Assert.Contains("  fold  ×4 repeats  10:00:01.000 → 10:00:04.000\n", stdout);
        Assert.DoesNotContain("False", stdout);
        Assert.DoesNotContain("True", stdout);
        Assert.DoesNotMatch(@"=(\s|$)", stdout);
    }

    [Fact]
    public void Pretty_on_a_terminal_colours_the_severity_unless_no_color_is_set()
    {
        var (rules, events) = Burst();
        var coloured = OnTerminal(noColor: null, "replay", events, "--rules", rules);
        Assert.Contains("\u001b[1;31mHIGH\u001b[0m  SNT-9001", coloured);

        var plain = OnTerminal(noColor: "1", "replay", events, "--rules", rules);
        Assert.Contains("HIGH  SNT-9001", plain);
        Assert.DoesNotContain("\u001b[1;31m", plain);
    }

    /// <summary>Runs sentinel with a pseudo-terminal as stdout, through util-linux script(1).</summary>
    private static string OnTerminal(string? noColor, params string[] args)
    {
        var command = string.Join(' ', new[] { SentinelProcess.Binary }.Concat(args).Select(a => "'" + a.Replace("'", "'\\''") + "'"));
        using var p = new ChildProcess("script", ["-q", "-e", "-c", command, "/dev/null"], "sentinel under script(1)",
            environment: new Dictionary<string, string?> { ["TERM"] = "xterm-256color", ["NO_COLOR"] = noColor });
        p.WaitForExit(TimeSpan.FromSeconds(120));
        return p.Stdout; // read line by line, so "\r\n" is already "\n"
    }
}
