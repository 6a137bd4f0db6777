using Sentinel.TestSupport;
using Sentinel.V1;

namespace Sentinel.Fleet.Tests;

/// <summary>
/// --nats-creds against a real nats-server in operator mode (JWT accounts, as `nsc` sets them up): an agent whose
/// credential allows only its own host's subjects exports; the same credential used under another host id exports
/// nothing; an agent without credentials is refused; the gateway reads with its own credential. Every refused agent
/// still journals locally.
/// </summary>
public sealed class NatsCredsTests
{
    [Fact]
    public async Task An_agent_credential_publishes_only_its_own_host_and_the_gateway_serves_with_its_own()
    {
        var trust = new NatsOperatorMode(Directory.CreateTempSubdirectory("sentinel-nats-creds-").FullName);
        using var servers = await NatsServers.StartSingleAsync("-c", trust.WriteServerConfig());
        // Least privilege for an agent, as docs/FLEET.md lists it: its own subjects, the stream API of its exporter, its inbox.
        var agentCreds = trust.WriteCreds("agent-creds-ok",
            publish: [FleetSubjects.Detections("creds-ok"), FleetSubjects.Heartbeat("creds-ok"), "$JS.API.INFO", "$JS.API.STREAM.INFO.*", "$JS.API.STREAM.CREATE.*"],
            subscribe: ["_INBOX.>"]);
        var gatewayCreds = trust.WriteCreds("gateway");

        using var agent = await ExportAgent.StartAsync(ExportTests.Journal(), servers.Urls, "creds-ok", "--nats-creds", agentCreds);
        using var impostor = await ExportAgent.StartAsync(ExportTests.Journal(), servers.Urls, "someone-else", "--nats-creds", agentCreds);
        using var anonymous = await ExportAgent.StartAsync(ExportTests.Journal(), servers.Urls, "no-creds");
        var last = await agent.EmitAsync(5);
        Assert.Equal(3UL, await impostor.EmitAsync(3)); // detection and the journal never wait on the broker
        Assert.Equal(2UL, await anonymous.EmitAsync(2));
        await Wait.UntilAsync(async () => (await agent.StatusAsync()).Export.AckedSequence == last, "the agent to export with its credential", 90);

        await using var gateway = await GatewayHarness.StartAsync(servers.Urls, credsFile: gatewayCreds);
        var fleet = await gateway.ReadAsync(new StreamDetectionsRequest());
        Assert.Equal(Enumerable.Range(1, 5).Select(i => ("creds-ok", (ulong)i)), fleet.Select(d => (d.HostId, d.AgentSequence)));
        Assert.Contains(await gateway.Client.ListAgentsAsync(new ListAgentsRequest()).ResponseAsync.ContinueWith(t => t.Result.Agents), a => a.HostId == "creds-ok");

        await Wait.UntilAsync(() => anonymous.Stderr.Contains("unreachable"), "the agent without credentials to say NATS refused it", 60);
        Assert.False((await anonymous.StatusAsync()).Export.Connected);
        Assert.Equal(0UL, (await anonymous.StatusAsync()).Export.AckedSequence);
        Assert.Equal(0UL, (await impostor.StatusAsync()).Export.AckedSequence);
        Assert.Equal(fleet.Count, (await gateway.ReadAsync(new StreamDetectionsRequest())).Count);
    }

    [Theory]
    [InlineData("garbage", "is not a NATS .creds file")]
    [InlineData("bad-jwt", "the user JWT is not a JWT")]
    [InlineData("bad-seed", "the nkey seed is not a valid seed")]
    [InlineData("account-seed", "is not a user seed")]
    public void A_bad_creds_file_is_one_clear_line_at_start(string damage, string expected)
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-nats-creds-").FullName;
        var good = File.ReadAllText(new NatsOperatorMode(dir).WriteCreds("agent"));
        var seed = System.Text.RegularExpressions.Regex.Match(good, @"BEGIN USER NKEY SEED-+\s*(\S+)").Groups[1].Value;
        Assert.StartsWith("SU", seed);
        var path = Path.Combine(dir, "bad.creds");
        File.WriteAllText(path, damage switch
        {
            "garbage" => "user=admin\npassword=secret\n",
            "bad-jwt" => System.Text.RegularExpressions.Regex.Replace(good, @"eyJ[^\n]+", "not-a-jwt"),
            "bad-seed" => good.Replace(seed, "SU" + new string('A', 20)),
            _ => good.Replace(seed, NATS.NKeys.KeyPair.CreatePair(NATS.NKeys.PrefixByte.Account).GetSeed()),
        });
        var agent = SentinelProcess.Run("fleet", "serve", "--nats", "nats://127.0.0.1:4222", "--nats-creds", path);
        Assert.Equal(2, agent.ExitCode);
        Assert.Contains("--nats-creds", agent.Stderr);
        Assert.Contains(expected, agent.Stderr);
        Assert.Single(agent.Stderr.Trim().Split('\n'));
    }
}
