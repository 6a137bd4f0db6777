using Microsoft.Extensions.DependencyInjection;
using Grpc.Core;
using Grpc.Net.Client;
using Sentinel.V1;
using Sentinel.TestSupport;

namespace Sentinel.Server.Tests;

/// <summary>
/// 200 concurrent SIEM streams, a tenth of them stalled (connected, never reading): the journal keeps committing,
/// every reading client gets every detection in order, and the stalled ones hold only their own stream back.
/// </summary>
public sealed class SlowClientTests
{
    private const int Clients = 200, Stalled = 20, Detections = 2_000;

    [Fact]
    public async Task Stalled_stream_clients_never_hold_back_commits_or_other_clients()
    {
        await using var server = await ServerHarness.StartAsync();
        var channels = new List<GrpcChannel>();
        var readers = new List<Task<List<ulong>>>();
        var stalledCalls = new List<AsyncServerStreamingCall<Detection>>();
        using var done = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                // One connection each, as separate SIEMs would have: a stalled client only fills its own windows.
                var channel = server.Channel();
                channels.Add(channel);
                var call = new DetectionService.DetectionServiceClient(channel)
                    .StreamDetections(new StreamDetectionsRequest { Follow = true }, cancellationToken: done.Token);
                if (i % (Clients / Stalled) == 0)
                {
                    stalledCalls.Add(call);
                    continue;
                }
                readers.Add(ReadAsync(call, done.Token));
            }
            await Wait.UntilAsync(() => server.App.Services.GetRequiredService<Streaming.StreamClientRegistry>().Snapshot().Count >= Clients, "every client to connect", 120);

            // The journal commits everything while the stalled clients sit on their streams.
            var last = await server.EmitAsync(Detections);
            Assert.Equal((ulong)Detections, last);

            var expected = Enumerable.Range(1, Detections).Select(i => (ulong)i).ToList();
            foreach (var reader in readers)
                Assert.Equal(expected, await reader.WaitAsync(TimeSpan.FromMinutes(3)));

            // The stalled clients are still connected and far behind: nothing was dropped for them, only not sent yet.
            var status = await server.Client().GetStatusAsync(new GetStatusRequest());
            var detectionStreams = status.Clients.Where(c => c.Kind == StreamKind.Detections).ToList();
            Assert.Equal(Clients, detectionStreams.Count);
            Assert.Equal(Clients - Stalled, detectionStreams.Count(c => c.LastSequence == Detections));
            Assert.True(detectionStreams.Count(c => c.LastSequence < Detections) == Stalled,
                "stalled clients: " + string.Join(",", detectionStreams.Select(c => c.LastSequence)));

            // A stalled client that resumes reading gets everything, in order.
            Assert.Equal(expected, await ReadAsync(stalledCalls[0], done.Token).WaitAsync(TimeSpan.FromMinutes(2)));
        }
        finally
        {
            done.Cancel();
            foreach (var call in stalledCalls) call.Dispose();
            foreach (var channel in channels) channel.Dispose();
        }
    }

    private static async Task<List<ulong>> ReadAsync(AsyncServerStreamingCall<Detection> call, CancellationToken token)
    {
        var seen = new List<ulong>(Detections);
        await foreach (var d in call.ResponseStream.ReadAllAsync(token))
        {
            seen.Add(d.Sequence);
            if (d.Sequence == Detections) break;
        }
        return seen;
    }
}
