using System.Text.Json.Nodes;
using Sentinel.TestSupport;

namespace Sentinel.Server.Tests;

/// <summary>`sentinel stream` and `sentinel status` as processes, against the agent as a process.</summary>
public sealed class CliStreamTests
{
    [Fact]
    public async Task Stream_follow_survives_an_agent_sigkill_and_prints_every_detection_exactly_once()
    {
        using var dir = new TempDir();
        var journal = Path.Combine(dir.Path, "journal.db");
        var port = ServerHarness.FreePort();
        var listen = $"127.0.0.1:{port}";

        var agent = await TestHostProcess.StartAsync(journal, "--listen", listen);
        await agent.EmitAsync(100);
        using var tail = new CliProcess(RepoPaths.SentinelDll, "stream", "--server", listen, "--follow", "--format", "json");
        await tail.WaitForLinesAsync(100);

        await agent.SendAsync("emit 500 SNT-0002 5");
        await tail.WaitForLinesAsync(150);
        agent.Kill(); // mid-stream
        agent.Dispose();
        await tail.WaitForStderrAsync("reconnecting");

        using var restarted = await TestHostProcess.StartAsync(journal, "--listen", listen);
        var last = await restarted.EmitAsync(100, "SNT-0003", 3);
        await tail.WaitForLinesAsync((int)last);

        var sequences = tail.Lines.Select(l => ulong.Parse((string)JsonNode.Parse(l)!["sequence"]!)).ToList();
        Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (ulong)i), sequences);
        await restarted.QuitAsync();
    }

    [Fact]
    public async Task Status_prints_a_table_and_json()
    {
        using var dir = new TempDir();
        var port = ServerHarness.FreePort();
        using var agent = await TestHostProcess.StartAsync(Path.Combine(dir.Path, "j.db"), "--listen", $"127.0.0.1:{port}");
        await agent.EmitAsync(7);

        using var table = new CliProcess(RepoPaths.SentinelDll, "status", "--server", $"127.0.0.1:{port}");
        Assert.Equal(0, await table.WaitForExitAsync());
        var text = string.Join("\n", table.Lines);
        Assert.Contains("sequences 1..7", text);
        Assert.Contains("processed 7, detections 7", text);

        using var json = new CliProcess(RepoPaths.SentinelDll, "status", "--server", $"127.0.0.1:{port}", "--json");
        Assert.Equal(0, await json.WaitForExitAsync());
        var status = JsonNode.Parse(string.Join("\n", json.Lines))!;
        Assert.Equal("7", (string)status["journal"]!["lastSequence"]!);

        using var refused = new CliProcess(RepoPaths.SentinelDll, "stream", "--server", $"127.0.0.1:{port}", "--after", "99");
        Assert.Equal(2, await refused.WaitForExitAsync());
        Assert.Contains("OutOfRange", refused.Stderr);
    }
}

public sealed class CliStreamFormatTests
{
    [Fact]
    public async Task Stream_prints_the_rule_description_in_ocsf_and_ecs_as_the_journal_carries_it()
    {
        await using var server = await ServerHarness.StartAsync();
        const string description = "Flags MOVE_ALL from a caller without CAP_SYS_NICE: privilege probing.";
        var detection = ServerHarness.MakeDetection("SNT-0002", Events.Severity.Medium, 1);
        server.Journal.OnDetection(detection with { Rule = detection.Rule with { Description = description } });
        await server.WaitCommittedAsync(1);
        var address = new Uri(server.Address).Authority;

        using var ocsf = new CliProcess(RepoPaths.SentinelDll, "stream", "--server", address, "--format", "ocsf");
        Assert.Equal(0, await ocsf.WaitForExitAsync());
        Assert.Equal(description, (string)JsonNode.Parse(Assert.Single(ocsf.Lines))!["finding_info"]!["analytic"]!["desc"]!);

        using var ecs = new CliProcess(RepoPaths.SentinelDll, "stream", "--server", address, "--format", "ecs");
        Assert.Equal(0, await ecs.WaitForExitAsync());
        Assert.Equal(description, (string)JsonNode.Parse(Assert.Single(ecs.Lines))!["rule"]!["description"]!);
    }
}

public sealed class CliTlsTests
{
    [Fact]
    public async Task Status_and_stream_authenticate_with_a_client_certificate_or_a_token_over_tls()
    {
        var dir = new TempDir();
        using var pki = new TestCertificates(dir);
        await using var server = await ServerHarness.StartAsync(o =>
        {
            o.TlsCertificatePath = pki.ServerCertPath; o.TlsKeyPath = pki.ServerKeyPath; o.ClientCaPath = pki.CaPath; o.Token = "cli-token";
        }, dir: dir);
        await server.EmitAsync(3);
        var address = new Uri(server.Address).Authority;
        var dll = RepoPaths.SentinelDll;
        using var client = pki.Issue("CN=cli");
        var (cert, key) = pki.WriteClient(client, "cli");

        using var mtls = new CliProcess(dll, "stream", "--server", address, "--ca", pki.CaPath, "--cert", cert, "--key", key);
        Assert.Equal(0, await mtls.WaitForExitAsync());
        Assert.Equal(3, mtls.Lines.Count);

        using var token = new CliProcess(dll, "status", "--server", address, "--ca", pki.CaPath, "--token", "cli-token", "--json");
        Assert.Equal(0, await token.WaitForExitAsync());

        using var anonymous = new CliProcess(dll, "status", "--server", address, "--ca", pki.CaPath);
        Assert.Equal(2, await anonymous.WaitForExitAsync());
        Assert.Contains("Unauthenticated", anonymous.Stderr);

        using var wrong = new CliProcess(dll, "stream", "--server", address, "--ca", pki.CaPath, "--token", "nope");
        Assert.Equal(2, await wrong.WaitForExitAsync());
        Assert.Contains("invalid bearer token", wrong.Stderr);
    }
}

/// <summary>`sentinel` run through `dotnet` on its assembly (as the agent's host runs it).</summary>
internal sealed class CliProcess(string dll, params string[] args) : ChildProcess("dotnet", [dll, .. args], "sentinel")
{
    /// <summary>The non-empty stdout lines.</summary>
    public IReadOnlyList<string> Lines => StdoutLines.Where(l => l.Length > 0).ToArray();

    /// <summary>Stderr without its final line break, as the tests compare it whole.</summary>
    public new string Stderr => base.Stderr is [.. var text, '\n'] ? text : base.Stderr;

    public Task WaitForLinesAsync(int count) => WaitUntilAsync(() => Lines.Count >= count, $"{count} lines", 120);

    public Task<int> WaitForExitAsync() => WaitForExitAsync(TimeSpan.FromSeconds(120));
}
