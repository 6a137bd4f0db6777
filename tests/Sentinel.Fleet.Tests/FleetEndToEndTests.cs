using Sentinel.TestSupport;
using Sentinel.V1;

namespace Sentinel.Fleet.Tests;

/// <summary>
/// The whole fleet path with nothing simulated: agents (the real exporter and heartbeat, as processes) publish to a
/// 3-node cluster with an R3 stream, a real gateway serves it, and a gRPC client reads the fleet view.
/// </summary>
public sealed class FleetEndToEndTests
{
    [Fact]
    public async Task Two_exporting_agents_reach_a_siem_through_the_r3_cluster_and_the_gateway_in_order_once_with_their_identity()
    {
        using var servers = await NatsServers.StartClusterAsync();
        using var a = await ExportAgent.StartAsync(ExportTests.Journal(), servers.Urls, "e2e-a", "--nats-replicas", "3");
        using var b = await ExportAgent.StartAsync(ExportTests.Journal(), servers.Urls, "e2e-b", "--nats-replicas", "3");
        await using var gateway = await GatewayHarness.StartAsync(servers.Urls);

        // The SIEM follows from the start while both agents commit.
        var expected = 2 * 150;
        var follow = gateway.ReadAsync(new StreamDetectionsRequest { Follow = true, HostIds = { "e2e-a", "e2e-b" } }, count: expected, timeoutSeconds: 120);
        var lastA = 0UL;
        var lastB = 0UL;
        for (var i = 0; i < 3; i++)
        {
            lastA = await a.EmitAsync(50);
            lastB = await b.EmitAsync(50, "SNT-0003");
        }
        var seen = await follow;

        // Fleet sequences strictly increase; each host's agent sequences are 1..N, once each, in order.
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.Second.Sequence > p.First.Sequence), "fleet sequences increase");
        var statusA = await a.StatusAsync();
        var statusB = await b.StatusAsync();
        foreach (var (host, last, status) in new[] { ("e2e-a", lastA, statusA), ("e2e-b", lastB, statusB) })
        {
            var mine = seen.Where(d => d.HostId == host).ToList();
            Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (ulong)i), mine.Select(d => d.AgentSequence));
            Assert.All(mine, d => Assert.Equal(status.Journal.JournalId, d.JournalId));
        }
        Assert.All(seen.Where(d => d.HostId == "e2e-b"), d => Assert.Equal("SNT-0003", d.RuleId));

        // A second read resumes from a fleet cursor in the middle, gap-free, through the same gateway.
        var middle = seen[expected / 2 - 1].Sequence;
        var rest = await gateway.ReadAsync(new StreamDetectionsRequest { AfterSequence = middle, HostIds = { "e2e-a", "e2e-b" } });
        Assert.Equal(seen.Skip(expected / 2).Select(d => d.Sequence), rest.Select(d => d.Sequence));

        // Both agents' heartbeats reach ListAgents with what they run.
        await Wait.UntilAsync(async () => (await gateway.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Count(x => x.HostId.StartsWith("e2e-")) == 2,
            "both agents in ListAgents", 90);
        var agents = (await gateway.Client.ListAgentsAsync(new ListAgentsRequest())).Agents;
        foreach (var (host, status) in new[] { ("e2e-a", statusA), ("e2e-b", statusB) })
        {
            var info = agents.Single(x => x.HostId == host);
            Assert.False(info.Silent);
            Assert.Equal(status.Journal.JournalId, info.LastHeartbeat.JournalId);
            Assert.False(string.IsNullOrEmpty(info.LastHeartbeat.Version));
        }

        // The exporter's cursor reached the end on both agents: nothing left behind.
        await Wait.UntilAsync(async () => (await a.StatusAsync()).Export.AckedSequence == lastA && (await b.StatusAsync()).Export.AckedSequence == lastB,
            "both export cursors at the last sequence", 90);
    }
}
