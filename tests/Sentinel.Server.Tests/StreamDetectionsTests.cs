using Grpc.Core;
using Sentinel.V1;
using Severity = Sentinel.Events.Severity;

namespace Sentinel.Server.Tests;

public sealed class StreamDetectionsTests
{
    [Fact]
    public async Task Replay_without_follow_is_ordered_gap_free_from_one_and_completes()
    {
        await using var server = await ServerHarness.StartAsync();
        await server.EmitAsync(2500); // several pages and several commit batches

        var call = server.Client().StreamDetections(new StreamDetectionsRequest { Follow = false });
        var received = await call.ResponseStream.ReadAsync();

        received.AssertContiguous(1, 2500);
        Assert.Equal("detection 1", received[0].Message);
        Assert.Equal("SNT-0001", received[0].RuleId);
        Assert.Equal(4242, received[0].Event.Context.Pid);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode); // the stream ended by itself
    }

    [Fact]
    public async Task Follow_replays_then_delivers_live_detections_in_order()
    {
        await using var server = await ServerHarness.StartAsync();
        await server.EmitAsync(10);
        using var cts = new CancellationTokenSource();
        var call = server.Client().StreamDetections(new StreamDetectionsRequest { Follow = true }, cancellationToken: cts.Token);

        var replayed = await call.ResponseStream.ReadAsync(10);
        await server.EmitAsync(40);
        var live = await call.ResponseStream.ReadAsync(40);

        replayed.Concat(live).ToList().AssertContiguous(1, 50);
        cts.Cancel();
    }

    [Fact]
    public async Task A_client_that_disconnects_resumes_from_its_last_sequence_exactly_once()
    {
        await using var server = await ServerHarness.StartAsync();
        await server.EmitAsync(300);
        var client = server.Client();

        var first = new List<Detection>();
        using (var cts = new CancellationTokenSource())
        {
            var call = client.StreamDetections(new StreamDetectionsRequest { Follow = true }, cancellationToken: cts.Token);
            first.AddRange(await call.ResponseStream.ReadAsync(120));
            cts.Cancel(); // drop the connection mid-stream
            call.Dispose();
        }
        await server.EmitAsync(200); // committed while the client was away

        var resumed = client.StreamDetections(new StreamDetectionsRequest { AfterSequence = first[^1].Sequence });
        var rest = await resumed.ResponseStream.ReadAsync();

        first.Concat(rest).ToList().AssertContiguous(1, 500);
    }

    [Fact]
    public async Task Min_severity_and_rule_ids_filter_server_side()
    {
        await using var server = await ServerHarness.StartAsync();
        await server.EmitAsync(5, "SNT-0001", Severity.Low);
        await server.EmitAsync(5, "SNT-0002", Severity.Critical);
        await server.EmitAsync(5, "SNT-0003", Severity.Medium);
        await server.EmitAsync(5, "SNT-0001", Severity.High);
        var client = server.Client();

        var severe = await client.StreamDetections(new StreamDetectionsRequest { MinSeverity = V1.Severity.High }).ResponseStream.ReadAsync();
        Assert.Equal(10, severe.Count);
        Assert.All(severe, d => Assert.True(d.Severity >= V1.Severity.High));
        Assert.Equal(Enumerable.Range(6, 5).Concat(Enumerable.Range(16, 5)).Select(i => (ulong)i), severe.Select(d => d.Sequence));

        var request = new StreamDetectionsRequest { RuleIds = { "SNT-0001", "SNT-0003" }, MinSeverity = V1.Severity.Medium };
        var byRule = await client.StreamDetections(request).ResponseStream.ReadAsync();
        Assert.Equal(10, byRule.Count);
        Assert.Equal(Enumerable.Range(11, 10).Select(i => (ulong)i), byRule.Select(d => d.Sequence));
    }

    [Fact]
    public async Task Concurrent_followers_each_get_the_full_stream()
    {
        await using var server = await ServerHarness.StartAsync();
        await server.EmitAsync(100);
        using var cts = new CancellationTokenSource();
        var readers = Enumerable.Range(0, 6).Select(_ =>
        {
            var call = server.Client().StreamDetections(new StreamDetectionsRequest { Follow = true }, cancellationToken: cts.Token);
            return call.ResponseStream.ReadAsync(3000);
        }).ToList();

        for (var i = 0; i < 29; i++) await server.EmitAsync(100); // live, interleaved with the replays

        foreach (var received in await Task.WhenAll(readers)) received.AssertContiguous(1, 3000);
        cts.Cancel();
    }

    [Fact]
    public async Task After_sequence_beyond_the_end_is_out_of_range()
    {
        await using var server = await ServerHarness.StartAsync();
        await server.EmitAsync(3);

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            server.Client().StreamDetections(new StreamDetectionsRequest { AfterSequence = 99 }).ResponseStream.ReadAsync());

        Assert.Equal(StatusCode.OutOfRange, ex.StatusCode);
        Assert.Contains("last committed sequence 3", ex.Status.Detail);
        // The end itself is fine: nothing new yet.
        Assert.Empty(await server.Client().StreamDetections(new StreamDetectionsRequest { AfterSequence = 3 }).ResponseStream.ReadAsync());
    }

    [Fact]
    public async Task A_pruned_sequence_is_out_of_range_naming_the_earliest_available()
    {
        await using var server = await ServerHarness.StartAsync(o => o.RetentionBytes = 20_000);
        await server.EmitAsync(400);
        server.Journal.Prune(DateTimeOffset.UtcNow);
        var first = server.Journal.Range.First;
        Assert.True(first > 2, $"retention should have pruned (first={first})");

        var ex = await Assert.ThrowsAsync<RpcException>(() =>
            server.Client().StreamDetections(new StreamDetectionsRequest { AfterSequence = 1 }).ResponseStream.ReadAsync());

        Assert.Equal(StatusCode.OutOfRange, ex.StatusCode);
        Assert.Contains($"earliest available sequence is {first}", ex.Status.Detail);
        // Resuming right before the earliest retained one works, and so does 0 ("from the start of what is kept").
        var resumed = await server.Client().StreamDetections(new StreamDetectionsRequest { AfterSequence = first - 1 }).ResponseStream.ReadAsync();
        resumed.AssertContiguous(first, 400);
        var fromStart = await server.Client().StreamDetections(new StreamDetectionsRequest()).ResponseStream.ReadAsync();
        fromStart.AssertContiguous(first, 400);
    }

    [Fact]
    public async Task Bad_requests_get_invalid_argument_and_the_server_keeps_serving()
    {
        await using var server = await ServerHarness.StartAsync();
        await server.EmitAsync(5, "SNT-0001");
        var client = server.Client();

        async Task<RpcException> Fails(StreamDetectionsRequest request) =>
            await Assert.ThrowsAsync<RpcException>(() => client.StreamDetections(request).ResponseStream.ReadAsync());

        var unknown = await Fails(new StreamDetectionsRequest { RuleIds = { "SNT-0001", "SNT-9999" } });
        Assert.Equal(StatusCode.InvalidArgument, unknown.StatusCode);
        Assert.Contains("SNT-9999", unknown.Status.Detail);

        var huge = new StreamDetectionsRequest();
        huge.RuleIds.Add(Enumerable.Range(0, 50_000).Select(i => $"SNT-{i:D5}"));
        Assert.Equal(StatusCode.InvalidArgument, (await Fails(huge)).StatusCode);

        Assert.Equal(StatusCode.InvalidArgument, (await Fails(new StreamDetectionsRequest { MinSeverity = (V1.Severity)42 })).StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, (await Fails(new StreamDetectionsRequest { RuleIds = { "" } })).StatusCode);

        // Nothing was lost and the agent still serves.
        await server.EmitAsync(5);
        (await client.StreamDetections(new StreamDetectionsRequest()).ResponseStream.ReadAsync()).AssertContiguous(1, 10);
    }

    [Fact]
    public async Task A_rule_known_only_from_the_journal_or_the_catalog_is_accepted()
    {
        var catalog = new FixedCatalog(new Events.RuleInfo { Id = "SNT-0042", Name = "Loaded", Version = "1" });
        await using var server = await ServerHarness.StartAsync(services: b =>
            Microsoft.Extensions.DependencyInjection.ServiceCollectionServiceExtensions.AddSingleton<IRuleCatalog>(b.Services, catalog));
        await server.EmitAsync(3, "SNT-0007");

        var request = new StreamDetectionsRequest { RuleIds = { "SNT-0042", "SNT-0007" } };
        (await server.Client().StreamDetections(request).ResponseStream.ReadAsync()).AssertContiguous(1, 3);
    }
}

public sealed class FixedCatalog(params Events.RuleInfo[] rules) : IRuleCatalog
{
    public IReadOnlyList<Events.RuleInfo> Rules => rules;
}
