using Google.Protobuf;
using Grpc.Core;
using Sentinel.Fleet.Gateway;
using Sentinel.TestSupport;
using Sentinel.V1;

namespace Sentinel.Fleet.Tests;

/// <summary>StreamDetections through real gateways over a real JetStream stream, read by a real gRPC client.</summary>
public sealed class GatewayStreamTests
{
    [Fact]
    public async Task A_siem_resumes_by_fleet_sequence_through_a_restarted_gateway_and_a_second_gateway_gap_free()
    {
        using var servers = await NatsServers.StartClusterAsync();
        await using var agents = await FakeAgents.ConnectAsync(servers.Nodes[0].Url, replicas: 3);
        for (var i = 0; i < 20; i++)
            foreach (var host in new[] { "h1", "h2", "h3" })
                await agents.PublishAsync(host);

        // Gateway A on node 1: the whole stream, numbered by the stream, each host's own sequence kept.
        var a = await GatewayHarness.StartAsync(servers.Nodes[0].Url);
        var all = await a.ReadAsync(new StreamDetectionsRequest());
        Assert.Equal(Enumerable.Range(1, 60).Select(i => (ulong)i), all.Select(d => d.Sequence));
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (ulong)i), all.Where(d => d.HostId == "h2").Select(d => d.AgentSequence));
        Assert.All(all, d => Assert.Equal("journal-" + d.HostId, d.JournalId));

        // A follower reads 25 and goes away; the gateway restarts; the SIEM resumes after 25 on the new one.
        var first = await a.ReadAsync(new StreamDetectionsRequest { Follow = true }, count: 25);
        await a.DisposeAsync();
        await using var restarted = await GatewayHarness.StartAsync(servers.Nodes[0].Url);
        var second = await restarted.ReadAsync(new StreamDetectionsRequest { AfterSequence = first[^1].Sequence, Follow = true }, count: 15);

        // ...and the rest through gateway B on another node, while agents keep publishing.
        await using var b = await GatewayHarness.StartAsync(servers.Nodes[1].Url);
        var third = b.ReadAsync(new StreamDetectionsRequest { AfterSequence = second[^1].Sequence, Follow = true }, count: 30);
        for (var i = 0; i < 10; i++) await agents.PublishAsync("h" + (i % 3 + 1));
        var received = first.Concat(second).Concat(await third).ToList();
        Assert.Equal(Enumerable.Range(1, 70).Select(i => (ulong)i), received.Select(d => d.Sequence));
        // The same cursor means the same detection on every gateway.
        Assert.Equal(all.Select(d => d.Message), received.Take(60).Select(d => d.Message));
    }

    [Fact]
    public async Task Host_severity_and_rule_filters_select_on_the_fleet_stream()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var agents = await FakeAgents.ConnectAsync(servers.Urls);
        foreach (var host in new[] { "h1", "h2", "h3" })
        {
            await agents.PublishAsync(host, "SNT-0001", Severity.Low);
            await agents.PublishAsync(host, "SNT-0002", Severity.Critical);
        }
        await using var gateway = await GatewayHarness.StartAsync(servers.Urls);

        var h2 = await gateway.ReadAsync(new StreamDetectionsRequest { HostIds = { "h2" } });
        Assert.Equal([3UL, 4UL], h2.Select(d => d.Sequence));
        Assert.All(h2, d => Assert.Equal("h2", d.HostId));
        var h1h3 = await gateway.ReadAsync(new StreamDetectionsRequest { HostIds = { "h1", "h3" } });
        Assert.Equal([1UL, 2UL, 5UL, 6UL], h1h3.Select(d => d.Sequence));
        var critical = await gateway.ReadAsync(new StreamDetectionsRequest { MinSeverity = Severity.High });
        Assert.Equal([2UL, 4UL, 6UL], critical.Select(d => d.Sequence));
        var rule = await gateway.ReadAsync(new StreamDetectionsRequest { RuleIds = { "SNT-0001" }, HostIds = { "h3" } });
        Assert.Equal([5UL], rule.Select(d => d.Sequence));
        // A filtered resume starts after the cursor, whatever the filter skipped before it.
        var resumed = await gateway.ReadAsync(new StreamDetectionsRequest { AfterSequence = 3, HostIds = { "h2" } });
        Assert.Equal([4UL], resumed.Select(d => d.Sequence));
        Assert.Empty(await gateway.ReadAsync(new StreamDetectionsRequest { HostIds = { "nobody" } }));

        Assert.Equal(StatusCode.InvalidArgument, await gateway.StatusOfAsync(new StreamDetectionsRequest { HostIds = { "bad.host" } }));
        Assert.Equal(StatusCode.InvalidArgument, await gateway.StatusOfAsync(new StreamDetectionsRequest { MinSeverity = (Severity)42 }));
    }

    [Fact]
    public async Task Out_of_range_beyond_the_last_sequence_and_before_the_retained_first()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var agents = await FakeAgents.ConnectAsync(servers.Urls, "SMALL", maxMsgs: 10);
        for (var i = 0; i < 25; i++) await agents.PublishAsync("h1", stream: "SMALL");
        await using var gateway = await GatewayHarness.StartAsync(servers.Urls, "SMALL");

        var beyond = await Assert.ThrowsAsync<RpcException>(() => gateway.ReadAsync(new StreamDetectionsRequest { AfterSequence = 26 }));
        Assert.Equal(StatusCode.OutOfRange, beyond.StatusCode);
        Assert.Contains("beyond the last sequence 25", beyond.Status.Detail);
        var pruned = await Assert.ThrowsAsync<RpcException>(() => gateway.ReadAsync(new StreamDetectionsRequest { AfterSequence = 3 }));
        Assert.Equal(StatusCode.OutOfRange, pruned.StatusCode);
        Assert.Contains("earliest available sequence is 16", pruned.Status.Detail);
        // The last one kept is still a valid cursor; 0 starts at the earliest retained; the last is an empty read.
        Assert.Equal(Enumerable.Range(16, 10).Select(i => (ulong)i), (await gateway.ReadAsync(new StreamDetectionsRequest { AfterSequence = 15 })).Select(d => d.Sequence));
        Assert.Equal(16UL, (await gateway.ReadAsync(new StreamDetectionsRequest()))[0].Sequence);
        Assert.Empty(await gateway.ReadAsync(new StreamDetectionsRequest { AfterSequence = 25 }));
    }

    [Fact]
    public async Task A_malformed_message_is_skipped_and_counted_once_and_the_gateway_keeps_serving()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var agents = await FakeAgents.ConnectAsync(servers.Urls);
        await agents.PublishAsync("h1");
        var bad = await agents.PublishRawAsync(FleetSubjects.Detections("h1"), "not a protobuf"u8.ToArray());
        await agents.PublishRawAsync(FleetSubjects.Detections("h1") + ".extra", [0x0a, 0x01]);
        await agents.PublishAsync("h1");
        await using var gateway = await GatewayHarness.StartAsync(servers.Urls);

        for (var i = 0; i < 2; i++)
        {
            var read = await gateway.ReadAsync(new StreamDetectionsRequest());
            Assert.Equal([1UL, 4UL], read.Select(d => d.Sequence));
        }
        var status = await gateway.Client.GetStatusAsync(new GetStatusRequest());
        Assert.Equal(2UL, status.Gateway.SkippedMalformed);
        Assert.Equal(2UL, bad);
        Assert.True(status.Gateway.Connected);
        Assert.Equal(4UL, status.Gateway.LastSequence);
        Assert.Equal(FleetOptions.DefaultStream, status.Gateway.Stream);

        // ListRules and StreamEvents say what a gateway is instead of pretending.
        var rules = await Assert.ThrowsAsync<RpcException>(async () => await gateway.Client.ListRulesAsync(new ListRulesRequest()));
        Assert.Equal(StatusCode.FailedPrecondition, rules.StatusCode);
        using var events = gateway.Client.StreamEvents(new StreamEventsRequest());
        var ex = await Assert.ThrowsAsync<RpcException>(() => events.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.Unimplemented, ex.StatusCode);
    }

    /// <summary>
    /// The gateway passes stored bytes through with the fleet's fields appended; what a client parses must be the
    /// fleet's view whatever the agent wrote (a forged sequence or host id, no agent_sequence, unknown fields), and a
    /// string that is not UTF-8 never reaches a client's parser.
    /// </summary>
    [Fact]
    public async Task Stored_detections_reach_clients_with_the_fleets_sequence_and_host_whatever_the_agent_wrote()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var agents = await FakeAgents.ConnectAsync(servers.Urls);
        var forged = FakeAgents.Make("h1", 7);
        forged.Sequence = 999;
        forged.HostId = "someone-else";
        await agents.PublishRawAsync(FleetSubjects.Detections("h1"), forged.ToByteArray());
        var legacy = FakeAgents.Make("h2", 5);
        legacy.AgentSequence = 0;
        await agents.PublishRawAsync(FleetSubjects.Detections("h2"), [.. legacy.ToByteArray(), 0xF8, 0x06, 0x2A]); // + unknown field 111
        var odd = FakeAgents.Make("h3", 3, rule: "SNT-0003");
        odd.RuleName = "@@@@";
        var oddBytes = odd.ToByteArray();
        var at = oddBytes.AsSpan().IndexOf("@@@@"u8);
        oddBytes[at] = 0xFF; // not UTF-8
        await agents.PublishRawAsync(FleetSubjects.Detections("h3"), oddBytes);
        await using var gateway = await GatewayHarness.StartAsync(servers.Urls);

        var read = await gateway.ReadAsync(new StreamDetectionsRequest());
        Assert.Equal([(1UL, "h1", 7UL), (2UL, "h2", 5UL)], read.Select(d => (d.Sequence, d.HostId, d.AgentSequence)));
        Assert.Equal(forged.Message, read[0].Message);
        Assert.Equal(legacy.Message, read[1].Message);
        Assert.Equal([read[1]], await gateway.ReadAsync(new StreamDetectionsRequest { RuleIds = { "SNT-0001" }, HostIds = { "h2" } }));
        // proto3 strings are UTF-8: the parser refuses it, so the gateway skips it rather than pass it to clients.
        Assert.Equal(1UL, (await gateway.Client.GetStatusAsync(new GetStatusRequest())).Gateway.SkippedMalformed);
    }

    [Fact]
    public async Task Reflection_describes_the_detection_service_the_gateway_serves()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var gateway = await GatewayHarness.StartAsync(servers.Urls);
        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(gateway.Channel);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new() { ListServices = "" });
        await call.RequestStream.WriteAsync(new() { FileContainingSymbol = "sentinel.v1.DetectionService" });
        await call.RequestStream.CompleteAsync();
        var responses = await call.ResponseStream.ReadAllAsync().ToListAsync();
        Assert.Contains("sentinel.v1.DetectionService", responses[0].ListServicesResponse.Service.Select(s => s.Name));
        var service = responses[1].FileDescriptorResponse.FileDescriptorProto
            .Select(b => Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(b))
            .SelectMany(f => f.Service).Single(s => s.Name == "DetectionService");
        Assert.Equal(DetectionService.Descriptor.Methods.Select(m => m.Name), service.Method.Select(m => m.Name));
    }

    [Fact]
    public async Task Without_a_stream_the_gateway_answers_unavailable_and_serves_once_it_exists()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var gateway = await GatewayHarness.StartAsync(servers.Urls);
        Assert.Equal(StatusCode.Unavailable, await gateway.StatusOfAsync(new StreamDetectionsRequest()));
        Assert.Contains("does not exist", (await gateway.Client.GetStatusAsync(new GetStatusRequest())).Gateway.LastError);

        await using var agents = await FakeAgents.ConnectAsync(servers.Urls);
        await agents.PublishAsync("h1");
        Assert.Single(await gateway.ReadAsync(new StreamDetectionsRequest()));
    }
}
