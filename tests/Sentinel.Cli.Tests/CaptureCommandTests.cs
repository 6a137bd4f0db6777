using System.Text.Json;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.TestSupport;

namespace Sentinel.Cli.Tests;

/// <summary>`sentinel record` and `sentinel run` as a user runs them, against the live kernel.</summary>
[Collection("live")]
public sealed class CaptureCommandTests
{
    [LiveFact]
    public void Record_captures_real_calls_with_arguments_tags_compat_flag_and_toctou_evidence()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("sentinel-record").FullName, "calls.jsonl");
        using var agent = SentinelProcess.Start("record", "--out", file);
        agent.WaitForStderr("attached");

        var native = MovePagesHelper.Run("move_pages64", "--pages 3 --node 0 --flags 2").Single();
        var compat = MovePagesHelper.Run("move_pages32", "--pages 5 --query").Single();
        // The race needs the helper's writer thread on the other core during a call; with other test assemblies
        // running, one batch of 300 can miss it entirely (seen in CI), so five batches.
        var racing = Enumerable.Range(0, 5).SelectMany(_ => MovePagesHelper.Run("move_pages64", "--pages 4096 --query --race --repeat 300")).ToList();
        // No wait: every call above has returned, so its record is in the ring, and on SIGTERM the agent detaches
        // and then drains all that was submitted (the counters below prove nothing was dropped).
        agent.Signal("TERM");
        Assert.Equal(0, agent.WaitForExit(TimeSpan.FromSeconds(30)));

        var events = EventJson.ReadFile(file).ToList();
        var move = Assert.Single(events, e => e.Pid == native.Pid);
        Assert.Equal((0, 3UL, 2, 0L), (move.TargetPid, move.Count, move.Flags, move.ReturnValue));
        Assert.Equal(native.PagesAddress, move.PagesAddress);
        Assert.Equal([0, 0, 0], move.NodesAtEntry.ToArray());
        Assert.Equal(native.Status, move.Status.ToArray());
        Assert.False(move.Compat);

        var compatEvent = Assert.Single(events, e => e.Pid == compat.Pid);
        Assert.True(compatEvent.Compat);
        Assert.Equal(5UL, compatEvent.Count);
        Assert.Equal(compat.Status, compatEvent.Status.ToArray());

        // Other tests may flood move_pages at the same time; what the kernel could not queue is counted, never silent.
        var counters = Counters(agent.Stderr);
        Assert.Equal(counters["submitted"], counters["received"]);
        Assert.Equal(counters["received"], counters["processed"]);
        Assert.Equal(counters["received"], events.Count);
        var racingPids = racing.Select(c => c.Pid).ToHashSet();
        var raced = events.Where(e => racingPids.Contains(e.Pid)).ToList();
        // When the reader lags, identical calls are folded in the kernel into one record that counts them.
        var racedCalls = raced.Sum(e => e.FoldCount);
        if (counters["lost"] == 0) Assert.Equal(racing.Count, racedCalls);
        else Assert.True(racedCalls + counters["lost"] >= racing.Count, $"{racedCalls} raced calls and {counters["lost"]} lost");
        Assert.Contains(raced, e => e.HasToctouEvidence && (e.PagesChangedMask & 1) == 1);

        // The file itself carries each argument's type and tags, as the schema defines them.
        var line = File.ReadLines(file).Select(l => JsonDocument.Parse(l).RootElement)
            .First(e => e.GetProperty("context").GetProperty("pid").GetInt32() == native.Pid);
        var args = line.GetProperty("args").EnumerateArray().ToDictionary(a => a.GetProperty("name").GetString()!);
        Assert.Equal(["U", "TOCTOU", "OPT"], args["nodes"].GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("const void**", args["pages"].GetProperty("type").GetString());
        Assert.Equal(["K", "U"], args["count"].GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(0, line.GetProperty("context").GetProperty("uid").GetInt32()); // defaults are written, not implied
        Assert.Contains($"wrote {events.Count} events", agent.Stderr);
    }

    /// <summary>The counters line `run` and `record` print on exit, as name → value.</summary>
    internal static Dictionary<string, long> Counters(string stderr) =>
        stderr.Split('\n').Single(l => l.Contains("counters:"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(f => f.Contains('='))
            .Select(f => f.TrimEnd(';').Split('='))
            .ToDictionary(kv => kv[0], kv => long.Parse(kv[1]));

    [LiveFact]
    public void Run_without_rules_streams_a_lone_event_and_prints_counters_on_sigterm()
    {
        using var agent = SentinelProcess.Start("run", "--no-rules", "--no-server", "--format", "json");
        agent.WaitForStderr("attached");

        var call = MovePagesHelper.Run("move_pages64", "--pid 1073741808 --query").Single();

        // No other call follows, so only the reader's drain interval can deliver it (the probe skips the wakeup).
        MovePagesEvent? evt = null;
        agent.WaitUntil(() => (evt = Parsed(agent.StdoutLines).FirstOrDefault(e => e.Pid == call.Pid)) is not null, "the lone event");
        Assert.Equal(-Errno.ESRCH, evt!.ReturnValue);
        Assert.Equal(1073741808, evt.TargetPid);

        agent.Signal("TERM");
        Assert.Equal(0, agent.WaitForExit(TimeSpan.FromSeconds(30)));
        var counters = Counters(agent.Stderr);
        Assert.Equal(counters["submitted"], counters["received"]);
    }

    private static IEnumerable<MovePagesEvent> Parsed(IEnumerable<string> lines)
    {
        foreach (var line in lines)
        {
            var evt = new MovePagesEvent();
            EventJson.Parse(line, evt);
            yield return evt;
        }
    }

    [LiveFact]
    public void Without_cap_bpf_the_agent_says_what_is_missing_and_exits_2()
    {
        using var agent = SentinelProcess.Start(["record", "--out", "/tmp/never.jsonl"],
            prefix: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]);

        Assert.Equal(2, agent.WaitForExit(TimeSpan.FromSeconds(60)));
        var error = agent.Stderr.Trim();
        Assert.Single(error.Split('\n'));
        Assert.Contains("CAP_BPF", error);
        Assert.Contains("CAP_PERFMON", error);
        Assert.Contains("root", error);
    }
}

public sealed class UsageTests
{
    [Fact]
    public void Events_describe_prints_every_argument_with_its_tags()
    {
        var (code, stdout, _) = SentinelProcess.Run("events", "describe", "move_pages");

        Assert.Equal(0, code);
        Assert.Matches(@"nodes\s+const int\*\s+U, TOCTOU, OPT\s+NULL = query mode", stdout);
        Assert.Matches(@"count\s+uint64\s+K, U", stdout);
        Assert.Matches(@"pages\s+const void\*\*\s+U, TOCTOU", stdout);
        Assert.Matches(@"return\s+int64\s+K", stdout);
    }

    [Theory]
    [InlineData("events describe no_such_event", "unknown event 'no_such_event'")]
    [InlineData("frobnicate", "Unrecognized command or argument 'frobnicate'")]
    [InlineData("record", "--out")]
    [InlineData("record --out x.jsonl --duration -3", "--duration must be a positive number")]
    [InlineData("run --strategy fastest", "unknown strategy 'fastest'")]
    public void Bad_usage_exits_2_with_a_one_line_reason(string args, string expected)
    {
        var (code, stdout, stderr) = SentinelProcess.Run(args.Split(' '));

        Assert.Equal(2, code);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("   at ", stderr); // no stack traces
    }
}
