using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sentinel.TestSupport;

namespace Sentinel.Cli.Tests;

/// <summary>
/// The agent as a user runs it: `sentinel run` with the built-in rules and its gRPC server, a real
/// unprivileged MOVE_ALL call, then `sentinel status` and `sentinel stream` against it.
/// </summary>
[Collection("live")]
public sealed class AgentEndToEndTests
{
    [LiveFact]
    public void Run_fires_a_built_in_rule_live_journals_it_and_serves_it_to_status_and_stream()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-agent").FullName;
        var listen = $"127.0.0.1:{FreePort()}";
        var metrics = $"127.0.0.1:{FreePort()}";
        var eventsOut = Path.Combine(dir, "events.jsonl");
        using var agent = SentinelProcess.Start("run", "--format", "json", "--listen", listen, "--metrics", metrics,
            "--journal", Path.Combine(dir, "journal.db"), "--rules", RepoPaths.Rules, "--events-out", eventsOut);
        agent.WaitForStderr("serving gRPC");

        var call = MovePagesHelper.Run("move_pages64", "--flags 4 --node 0",
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups").Single();
        Assert.Equal(-1, call.Ret);

        JsonElement detection = default;
        agent.WaitUntil(() => agent.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement)
            .Any(d => (detection = d).GetProperty("event").GetProperty("context").GetProperty("pid").GetInt32() == call.Pid),
            "a detection for the MOVE_ALL call");
        Assert.Equal("SNT-0002", detection.GetProperty("ruleId").GetString());
        Assert.Equal("EPERM", detection.GetProperty("event").GetProperty("errno").GetString());

        var (statusCode, statusJson, statusErr) = SentinelProcess.Run("status", "--server", listen, "--json");
        Assert.True(statusCode == 0, statusErr);
        var status = JsonDocument.Parse(statusJson).RootElement;
        Assert.Equal("ATTACH_STRATEGY_TRACEPOINT", status.GetProperty("probes").GetProperty("strategy").GetString());
        Assert.Contains(status.GetProperty("rules").EnumerateArray(), r => r.GetProperty("ruleId").GetString() == "SNT-0002");

        var (streamCode, streamOut, streamErr) = SentinelProcess.Run("stream", "--server", listen, "--after", "0", "--format", "json");
        Assert.True(streamCode == 0, streamErr);
        var streamed = streamOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var fromJournal = Assert.Single(streamed, d => d.GetProperty("event").GetProperty("context").GetProperty("pid").GetInt32() == call.Pid);
        Assert.Equal("SNT-0002", fromJournal.GetProperty("ruleId").GetString());
        // What the agent printed was already committed and numbered: the same sequence the journal serves.
        var sequence = ulong.Parse(fromJournal.GetProperty("sequence").GetString()!);
        Assert.True(sequence >= 1);
        Assert.Equal(sequence, ulong.Parse(detection.GetProperty("sequence").GetString()!));
        // Printed from the journal's own conversion: byte for byte the line the journal serves.
        bool Numbered(string line) => JsonDocument.Parse(line).RootElement.GetProperty("sequence").GetString() == sequence.ToString();
        Assert.Equal(streamOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Single(Numbered), agent.StdoutLines.Single(Numbered));
        // The event file has the call's event as the detection carries it (one conversion shared by both).
        string? eventLine = null;
        agent.WaitUntil(() => (eventLine = File.ReadLines(eventsOut).FirstOrDefault(l =>
            JsonDocument.Parse(l).RootElement.GetProperty("context").GetProperty("pid").GetInt32() == call.Pid)) is not null, "the call in --events-out");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(eventLine!), JsonNode.Parse(detection.GetProperty("event").GetRawText())));
        // The rule's description travels with the detection, so the stream's SIEM formats carry it.
        var description = fromJournal.GetProperty("ruleDescription").GetString()!;
        Assert.StartsWith("The caller passed MPOL_MF_MOVE_ALL", description);
        var (ocsfCode, ocsfOut, ocsfErr) = SentinelProcess.Run("stream", "--server", listen, "--after", (sequence - 1).ToString(), "--format", "ocsf");
        Assert.True(ocsfCode == 0, ocsfErr);
        Assert.Equal(description, (string)JsonNode.Parse(ocsfOut.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0])!["finding_info"]!["analytic"]!["desc"]!);

        // Per-rule latency histograms are sampled (one evaluation in 64): enough calls to take a sample. More are made
        // until one shows, since a lagging reader folds identical calls into one event (one evaluation).
        string scrape = "";
        agent.WaitUntil(() =>
        {
            MovePagesHelper.Run("move_pages64", "--query --repeat 130");
            return (scrape = new HttpClient().GetStringAsync($"http://{metrics}/metrics").GetAwaiter().GetResult())
                .Contains("sentinel_rule_evaluation_seconds_count{rule=\"SNT-0002\"}");
        }, "a rule latency sample in /metrics");
        Assert.Matches(@"sentinel_rule_evaluations_total\{rule=""SNT-0002""\} \d+", scrape);

        agent.Signal("TERM");
        Assert.Equal(0, agent.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [LiveFact]
    public void A_second_agent_on_a_busy_port_exits_2_naming_the_address()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-agent").FullName;
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var listen = $"127.0.0.1:{((IPEndPoint)blocker.LocalEndpoint).Port}";

        using var agent = SentinelProcess.Start("run", "--listen", listen, "--journal", Path.Combine(dir, "j.db"), "--rules", RepoPaths.Rules);

        Assert.Equal(2, agent.WaitForExit(TimeSpan.FromSeconds(90)));
        Assert.Contains($"cannot listen on {listen}", agent.Stderr);
    }

    [LiveFact]
    public void A_journal_that_cannot_be_opened_exits_2_in_one_line()
    {
        // Its directory is a file, so the journal can neither be created nor opened.
        var blocker = Path.Combine(Directory.CreateTempSubdirectory("sentinel-agent").FullName, "a-file");
        File.WriteAllText(blocker, "");
        var missing = Path.Combine(blocker, "j.db");

        var (code, _, stderr) = SentinelProcess.Run("run", "--listen", "127.0.0.1:0", "--journal", missing, "--rules", RepoPaths.Rules);

        Assert.Equal(2, code);
        Assert.Contains($"sentinel: cannot open the journal {missing}", stderr);
        Assert.DoesNotContain("Unhandled exception", stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void A_plaintext_listener_off_loopback_refuses_to_start()
    {
        var (code, _, stderr) = SentinelProcess.Run("run", "--listen", "0.0.0.0:50999", "--journal", "/tmp/never.db");

        Assert.Equal(2, code);
        Assert.Contains("TLS", stderr);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
