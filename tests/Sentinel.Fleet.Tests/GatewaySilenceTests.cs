using Sentinel.Fleet.Gateway;
using Sentinel.TestSupport;
using Sentinel.V1;

namespace Sentinel.Fleet.Tests;

/// <summary>Liveness: heartbeats in, ListAgents out, and SNT-F001/F002 raised once by any number of gateways.</summary>
public sealed class GatewaySilenceTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task A_silent_agent_raises_F001_at_3_intervals_and_F002_when_back_stored_once_with_two_gateways()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var agents = await FakeAgents.ConnectAsync(servers.Urls);
        await agents.PublishAsync("h1");
        await using var a = await GatewayHarness.StartAsync(servers.Urls);
        await using var b = await GatewayHarness.StartAsync(servers.Urls);
        // The read spans the whole scenario (beats, silence, return), so its bound covers all of it on a busy machine.
        var fleet = a.ReadAsync(new StreamDetectionsRequest { HostIds = { FleetSubjects.FleetHostId }, Follow = true }, count: 2, timeoutSeconds: 240);

        using (var beating = new CancellationTokenSource())
        {
            var beat = agents.BeatAsync("h1", Interval, beating.Token);
            await Wait.UntilAsync(async () => (await a.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Any(x => x.HostId == "h1"), "h1 in ListAgents", 90);
            Assert.False((await a.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Single().Silent);
            await beating.CancelAsync(); // the agent is killed: no more heartbeats
            await beat;
        }
        await Wait.UntilAsync(async () => (await b.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Single().Silent, "h1 silent on gateway B", 90);
        var lastSeen = (await b.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Single().LastSeen.ToDateTimeOffset();

        // The agent restarts and beats again: "agent back".
        using (var beating = new CancellationTokenSource())
        {
            var beat = agents.BeatAsync("h1", Interval, beating.Token);
            List<Detection> events;
            try
            {
                events = await fleet;
            }
            catch (TimeoutException ex)
            {
                var onFleet = await agents.StoredAsync(FleetSubjects.Detections(FleetSubjects.FleetHostId));
                throw new TimeoutException($"{ex.Message}\nstored on _fleet: {string.Join(", ", onFleet.Select(d => d.RuleId))}\n"
                                           + $"gateway B: ready {b.Agents.Ready}, {b.Agents.Checks} checks, {b.Agents.RaisedCount} raised; it logged:\n{b.Log}");
            }
            await beating.CancelAsync();
            await beat;

            var silent = events[0];
            Assert.Equal(FleetEvents.SilentRuleId, silent.RuleId);
            Assert.Equal(Severity.High, silent.Severity);
            Assert.Equal(FleetSubjects.FleetHostId, silent.HostId);
            Assert.Equal("h1", silent.Fields[FleetEvents.HostField]);
            Assert.Equal("h1", silent.Host);
            Assert.Contains("agent h1 went silent: no heartbeat for 3s (3 intervals of 1s)", silent.Message);
            // Raised for the deadline: exactly 3 intervals after the last stored heartbeat.
            Assert.Equal(lastSeen + 3 * Interval, silent.Time.ToDateTimeOffset());
            Assert.Equal(FleetEvents.BackRuleId, events[1].RuleId);
            Assert.Contains("agent h1 is back", events[1].Message);
        }

        // Both gateways raised both events (or saw the other's): the stream holds each once.
        await Wait.UntilAsync(async () => !(await a.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Single().Silent
                                          && !(await b.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Single().Silent, "h1 ok on both", 90);
        var stored = await agents.StoredAsync(FleetSubjects.Detections(FleetSubjects.FleetHostId));
        Assert.Equal([FleetEvents.SilentRuleId, FleetEvents.BackRuleId], stored.Select(d => d.RuleId));

        // A gateway started later reads what was raised and raises nothing again.
        await using var late = await GatewayHarness.StartAsync(servers.Urls);
        await Wait.UntilAsync(() => late.Agents.Checks >= 3, "the late gateway to check", 90);
        Assert.Equal(0, late.Agents.RaisedCount);
        Assert.Equal(2, (await agents.StoredAsync(FleetSubjects.Detections(FleetSubjects.FleetHostId))).Count);
    }

    [Fact]
    public async Task A_silence_that_ends_between_two_checks_is_still_raised_then_the_return()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var agents = await FakeAgents.ConnectAsync(servers.Urls);
        // Checks 5 s apart; the agent is overdue after 3 intervals of 200 ms and back before the first check.
        await using var gateway = await GatewayHarness.StartAsync(servers.Urls, silenceCheckPeriod: TimeSpan.FromSeconds(5));
        var quick = TimeSpan.FromMilliseconds(200);
        await Wait.UntilAsync(() => gateway.Agents.Ready, "the gateway to read both streams", 90);
        var fleet = gateway.ReadAsync(new StreamDetectionsRequest { HostIds = { FleetSubjects.FleetHostId }, Follow = true }, count: 3, timeoutSeconds: 120);

        await agents.HeartbeatAsync("h2", quick);
        await Wait.UntilAsync(async () => (await gateway.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Any(x => x.HostId == "h2"), "h2 in ListAgents", 90);
        var first = (await gateway.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Single().LastSeen.ToDateTimeOffset();
        await Wait.UntilAsync(async () => (await gateway.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Single().Silent, "h2 overdue", 90);
        Assert.Equal(0, gateway.Agents.Checks); // no check has looked yet
        // Back before any check, then silent again for good: silence, return, silence.
        await agents.HeartbeatAsync("h2", quick);

        var events = await fleet;
        Assert.Equal([FleetEvents.SilentRuleId, FleetEvents.BackRuleId, FleetEvents.SilentRuleId], events.Select(d => d.RuleId));
        Assert.Equal(first + 3 * quick, events[0].Time.ToDateTimeOffset());
        Assert.Equal("h2", events[0].Fields[FleetEvents.HostField]);
        Assert.Equal(events[1].Fields[FleetEvents.HeartbeatTimeField], events[2].Fields[FleetEvents.HeartbeatTimeField]);
    }

    [Fact]
    public async Task ListAgents_reports_each_heartbeat_and_an_orderly_stop_is_not_silence()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var agents = await FakeAgents.ConnectAsync(servers.Urls);
        var quick = TimeSpan.FromMilliseconds(200);
        await agents.HeartbeatAsync("stopped-host", quick, stopping: true);
        await agents.HeartbeatAsync("dead-host", quick);
        await agents.HeartbeatAsync("h9", TimeSpan.FromMinutes(10), version: "9.9.9");
        await using var gateway = await GatewayHarness.StartAsync(servers.Urls);

        await Wait.UntilAsync(async () => (await gateway.Client.ListAgentsAsync(new ListAgentsRequest())).Agents.Any(x => x is { HostId: "dead-host", Silent: true }),
            "dead-host silent", 90);
        var list = (await gateway.Client.ListAgentsAsync(new ListAgentsRequest())).Agents;
        Assert.Equal(["dead-host", "h9", "stopped-host"], list.Select(x => x.HostId));
        Assert.False(list.Single(x => x.HostId == "stopped-host").Silent);
        var h9 = list.Single(x => x.HostId == "h9");
        Assert.False(h9.Silent);
        Assert.Equal("9.9.9", h9.LastHeartbeat.Version);
        Assert.Equal("dir", h9.LastHeartbeat.RulePackVersion);
        Assert.StartsWith("ab12cd34", h9.LastHeartbeat.RulePackHash);
        Assert.Equal(7UL, h9.LastHeartbeat.Counters.LostInKernel);
        Assert.Equal(2UL, h9.LastHeartbeat.ExportLostToRetention);
        Assert.True(DateTimeOffset.UtcNow - h9.LastSeen.ToDateTimeOffset() < TimeSpan.FromMinutes(5));

        // A heartbeat that is not one is skipped and counted.
        await agents.PublishRawAsync(FleetSubjects.Heartbeat("junk"), "garbage!"u8.ToArray());
        await Wait.UntilAsync(async () => (await gateway.Client.GetStatusAsync(new GetStatusRequest())).Gateway.SkippedHeartbeats == 1, "the junk heartbeat counted", 90);
        var status = (await gateway.Client.GetStatusAsync(new GetStatusRequest())).Gateway;
        Assert.Equal(3U, status.Agents);
        Assert.Equal(1U, status.SilentAgents);
    }
}
