using System.Net.Sockets;
using Grpc.Core;
using Grpc.Reflection.V1Alpha;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.V1;
using Sentinel.TestSupport;

namespace Sentinel.Server.Tests;

/// <summary>What the probes and the rule engine would contribute.</summary>
public sealed class FakeProbeAndRules : IAgentStatusContributor
{
    public void Contribute(AgentStatus status)
    {
        status.Probes.Strategy = AttachStrategy.Tracepoint;
        status.Probes.Attempts.Add(new ProbeAttempt { Strategy = AttachStrategy.Kprobe, Error = "CONFIG_KPROBES is off" });
        status.Probes.Attempts.Add(new ProbeAttempt { Strategy = AttachStrategy.Tracepoint, Attached = true });
        status.Counters.EventsSeen = 1234;
        status.Counters.LostInKernel = 7;
        status.Rules.Add(new RuleStatus { RuleId = "SNT-0001", Evaluations = 1200, Detections = 3, Errors = 1 });
        status.Rules.Add(new RuleStatus { RuleId = "SNT-0002", Evaluations = 1200, Quarantined = true, QuarantineReason = "timeout" });
    }
}

public sealed class StatusAndDiscoveryTests
{
    private static Task<ServerHarness> StartWithHooksAsync(Action<ServerOptions>? configure = null) =>
        ServerHarness.StartAsync(configure, b =>
        {
            b.Services.AddSingleton<IAgentStatusContributor, FakeProbeAndRules>();
            b.Services.AddSingleton<IRuleCatalog>(new FixedCatalog(
                new Events.RuleInfo
                {
                    Id = "SNT-0001", Name = "MOVE_ALL without CAP_SYS_NICE", Version = "1.0.0", Severity = Events.Severity.High,
                    MitreTactics = ["Discovery"], MitreTechniques = ["T1057"], Tags = ["probing"], Events = ["move_pages"], File = "rules/SNT-0001.csx",
                }));
        });

    [Fact]
    public async Task GetStatus_combines_contributors_journal_and_clients_and_ListRules_reads_the_catalog()
    {
        await using var server = await StartWithHooksAsync();
        await server.EmitAsync(4);
        using var cts = new CancellationTokenSource();
        var follower = server.Client().StreamDetections(new StreamDetectionsRequest { Follow = true }, cancellationToken: cts.Token);
        await follower.ResponseStream.ReadAsync(4);

        var status = await server.Client().GetStatusAsync(new GetStatusRequest());

        Assert.Equal(AttachStrategy.Tracepoint, status.Probes.Strategy);
        Assert.Equal("CONFIG_KPROBES is off", status.Probes.Attempts[0].Error);
        Assert.Equal(1234ul, status.Counters.EventsSeen);
        Assert.True(status.Rules.Single(r => r.RuleId == "SNT-0002").Quarantined);
        Assert.Equal((1ul, 4ul), (status.Journal.FirstSequence, status.Journal.LastSequence));
        Assert.Equal("FULL", status.Journal.SyncMode);
        Assert.True(status.Journal.SizeBytes > 0);
        var client = Assert.Single(status.Clients);
        Assert.Equal(StreamKind.Detections, client.Kind);
        Assert.Equal(4ul, client.LastSequence);
        Assert.Contains(server.Address, status.Listen);

        var rules = await server.Client().ListRulesAsync(new ListRulesRequest());
        var rule = Assert.Single(rules.Rules);
        Assert.Equal(("SNT-0001", V1.Severity.High, "T1057", "move_pages"), (rule.Id, rule.Severity, rule.MitreTechniques[0], rule.Events[0]));
        cts.Cancel();
    }

    [Fact]
    public async Task GetStatus_counts_what_the_pipeline_processed_and_detected()
    {
        using var dir = new TempDir();
        using var agent = await TestHostProcess.StartAsync(Path.Combine(dir.Path, "journal.db"));
        // The host's detector fires once per emitted event, through the real pipeline.
        await agent.EmitAsync(25);

        var line = await agent.CommandAsync("status");
        var status = Google.Protobuf.JsonParser.Default.Parse<AgentStatus>(line["status ".Length..]);

        Assert.Equal((25ul, 25ul, 0ul), (status.Counters.EventsProcessed, status.Counters.Detections, status.Counters.SinkErrors));
        await agent.QuitAsync();
    }

    [Fact]
    public async Task Metrics_endpoint_is_scrapeable_and_reports_journal_rules_and_clients()
    {
        var port = ServerHarness.FreePort();
        await using var server = await StartWithHooksAsync(o => o.MetricsListen = $"127.0.0.1:{port}");
        await server.EmitAsync(12);
        using var cts = new CancellationTokenSource();
        var events = server.Client().StreamEvents(new StreamEventsRequest(), cancellationToken: cts.Token);
        await Wait.UntilAsync(() => server.Broadcaster.SubscriberCount == 1, "the subscriber");

        using var http = new HttpClient();
        var text = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");

        Assert.Contains("sentinel_journal_last_sequence 12", text);
        Assert.Contains("sentinel_journal_first_sequence 1", text);
        Assert.Contains("sentinel_kernel_lost_events_total 7", text);
        Assert.Contains("sentinel_rule_evaluations_total{rule=\"SNT-0001\"} 1200", text);
        Assert.Contains("sentinel_rule_quarantined{rule=\"SNT-0002\"} 1", text);
        Assert.Contains("sentinel_stream_clients{kind=\"events\"} 1", text);
        Assert.Contains("sentinel_journal_commit_seconds_count", text);
        Assert.Contains("sentinel_detection_commit_latency_seconds_bucket", text);
        Assert.Matches(@"sentinel_journal_size_bytes [1-9]", text);

        // Only /metrics on the metrics port; no metrics on the gRPC port.
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync($"http://127.0.0.1:{port}/grpc.health.v1.Health/Check")).StatusCode);
        cts.Cancel();
    }

    [Fact]
    public async Task Reflection_lists_the_services_for_grpcurl_style_clients()
    {
        await using var server = await ServerHarness.StartAsync();
        var reflection = new ServerReflection.ServerReflectionClient(server.Channel());
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { FileContainingSymbol = "sentinel.v1.DetectionService" });
        await call.RequestStream.CompleteAsync();

        var responses = await call.ResponseStream.ReadAsync();
        var services = responses[0].ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("sentinel.v1.DetectionService", services);
        Assert.Contains("grpc.health.v1.Health", services);
        var files = responses[1].FileDescriptorResponse.FileDescriptorProto
            .Select(b => Google.Protobuf.Reflection.FileDescriptorProto.Parser.ParseFrom(b)).ToList();
        var service = files.SelectMany(f => f.Service).Single(s => s.Name == "DetectionService");
        Assert.Equal(["StreamDetections", "StreamEvents", "ListRules", "GetStatus", "ListAgents"], service.Method.Select(m => m.Name));
    }

    [Fact]
    public async Task Serves_on_a_unix_socket_readable_only_by_its_owner()
    {
        using var dir = new TempDir();
        var socket = Path.Combine(dir.Path, "sentinel.sock");
        File.WriteAllText(socket, "stale"); // left behind by a killed agent
        await using var server = await ServerHarness.StartAsync(o => o.Listen = "unix:" + socket);

        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), token);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress("http://localhost", new() { HttpHandler = handler });
        await server.EmitAsync(3);
        var received = await new DetectionService.DetectionServiceClient(channel)
            .StreamDetections(new StreamDetectionsRequest()).ResponseStream.ReadAsync();
        received.AssertContiguous(1, 3);
        await Wait.UntilAsync(() => File.GetUnixFileMode(socket) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), "the socket to be 0600");
    }
}
