using System.Text.Json.Nodes;
using Sentinel.TestSupport;
using Sentinel.V1;

namespace Sentinel.Fleet.Tests;

/// <summary>The gateway as operators and SIEMs run it: `sentinel fleet serve`, `sentinel stream`, `sentinel fleet status`, and a Node client.</summary>
public sealed class GatewayCliTests
{
    [Fact]
    public async Task Fleet_serve_streams_to_sentinel_stream_and_fleet_status_shows_every_agent()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var agents = await FakeAgents.ConnectAsync(servers.Urls);
        for (var i = 0; i < 3; i++) { await agents.PublishAsync("h1"); await agents.PublishAsync("h2", "SNT-0002", Severity.Critical); }
        await agents.HeartbeatAsync("h1", TimeSpan.FromMinutes(10), version: "1.4.0");
        await agents.HeartbeatAsync("h2", TimeSpan.FromMilliseconds(100));

        var port = NatsServers.FreePort();
        using var gateway = SentinelProcess.Start("fleet", "serve", "--nats", servers.Urls, "--listen", $"127.0.0.1:{port}");
        gateway.WaitForStderr("fleet gateway serving gRPC");
        var address = $"127.0.0.1:{port}";

        // `sentinel stream` is unchanged: it resumes by the fleet sequence like an agent's.
        var (code, stdout, stderr) = SentinelProcess.Run("stream", "--server", address, "--after", "2");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(["3", "4", "5", "6"], lines.Take(4).Select(l => (string)l["sequence"]!));
        Assert.Equal(["h1", "h2", "h1", "h2"], lines.Take(4).Select(l => (string)l["hostId"]!));
        // h2 (100 ms heartbeats, then none) may already be reported silent by the gateway: that is fleet news.
        Assert.All(lines.Skip(4), l => Assert.Equal("_fleet", (string)l["hostId"]!));

        // h2 beats every 100 ms and stopped: SILENT, and the exit code says so.
        int statusCode = 0;
        string table = "";
        await Wait.UntilAsync(() =>
        {
            (statusCode, table, stderr) = SentinelProcess.Run("fleet", "status", "--server", address);
            return Task.FromResult(table.Contains("SILENT"));
        }, "fleet status to show h2 SILENT", 90);
        Assert.Equal(1, statusCode);
        var rows = table.Split('\n');
        Assert.Contains(rows, r => r.StartsWith("stream    SENTINEL_DETECTIONS  sequences 1..7  7 messages")); // 6 + h2's SNT-F001
        Assert.Contains(rows, r => r.StartsWith("agents    2 (1 silent)"));
        Assert.Matches(@"^HOST\s+VERSION\s+RULES\s+HASH\s+LAST SEEN\s+LOST\s+STATE$", rows.Single(r => r.StartsWith("HOST")));
        Assert.Matches(@"^h1\s+1\.4\.0\s+dir\s+ab12cd34ef56\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(\d+s ago\)\s+kernel 7, export 2\s+ok$", rows.Single(r => r.StartsWith("h1 ")));
        Assert.Matches(@"^h2\s+.*SILENT$", rows.Single(r => r.StartsWith("h2 ")));

        // Against an agent (no ListAgents), and with a bad URL, one clear line and exit 2.
        var bad = SentinelProcess.Run("fleet", "serve", "--nats", "http://nope:1");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("bad NATS URL 'http://nope:1'", bad.Stderr);
        var open = SentinelProcess.Run("fleet", "serve", "--nats", servers.Urls, "--listen", "0.0.0.0:0");
        Assert.Equal(2, open.ExitCode);
        Assert.Contains("without TLS", open.Stderr);

        gateway.Signal("TERM");
        Assert.Equal(0, gateway.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_grpc_js_client_streams_and_resumes_from_a_gateway()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var agents = await FakeAgents.ConnectAsync(servers.Urls);
        for (var i = 0; i < 5; i++) await agents.PublishAsync("h" + (i % 2), "SNT-0001");
        for (var i = 0; i < 5; i++) await agents.PublishAsync("h" + (i % 2), "SNT-0002", Severity.Critical);
        await using var gateway = await GatewayHarness.StartAsync(servers.Urls);
        var address = new Uri(gateway.Address).Authority;

        var all = await NodeGrpcClient.StreamAsync(address, "0");
        Assert.Equal("status 0", all[^1]);
        var detections = all[..^1].Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(Enumerable.Range(1, 10).Select(i => i.ToString()), detections.Select(d => (string)d["sequence"]!));
        Assert.Equal("SEVERITY_CRITICAL", (string)detections[9]["severity"]!);
        Assert.Equal(4242, (int)detections[0]["pid"]!);
        var resumed = await NodeGrpcClient.StreamAsync(address, "7", "SNT-0002");
        Assert.Equal(["8", "9", "10"], resumed[..^1].Select(l => (string)JsonNode.Parse(l)!["sequence"]!));
        Assert.Equal("status 11", (await NodeGrpcClient.StreamAsync(address, "99"))[^1]); // OUT_OF_RANGE
    }
}
