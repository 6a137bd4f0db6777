using Grpc.Core;
using Sentinel.Events;
using Sentinel.V1;
using Severity = Sentinel.Events.Severity;
using Sentinel.TestSupport;

namespace Sentinel.Server.Tests;

public sealed class StreamEventsTests
{
    private static MovePagesEvent Event(int serial) => new()
    {
        TimeUnixNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000, Pid = 100, Tid = serial, Comm = "numad", Flags = 2,
    };

    [Fact]
    public async Task A_stalled_client_loses_its_oldest_events_counted_while_others_and_detections_keep_flowing()
    {
        await using var server = await ServerHarness.StartAsync();
        using var cts = new CancellationTokenSource();
        var client = server.Client();

        // The stalled client asks for a tiny buffer and never reads. Each client has its own connection, as SIEMs do.
        var stalled = server.Client().StreamEvents(new StreamEventsRequest { BufferSize = 8 }, cancellationToken: cts.Token);
        var healthy = client.StreamEvents(new StreamEventsRequest { BufferSize = 200_000 }, cancellationToken: cts.Token);
        var detections = server.Client().StreamDetections(new StreamDetectionsRequest { Follow = true }, cancellationToken: cts.Token);
        await Wait.UntilAsync(() => server.Broadcaster.SubscriberCount == 2, "both subscribers");

        const int events = 50_000;
        var reading = healthy.ResponseStream.ReadAsync(events);
        var detectionsReading = detections.ResponseStream.ReadAsync(events / 100);
        // The pipeline's thread: OnEvent must return every time, whatever the stalled client does.
        for (var i = 1; i <= events; i++)
        {
            server.Broadcaster.OnEvent(Event(i));
            if (i % 100 == 0) server.Journal.OnDetection(ServerHarness.MakeDetection("SNT-0001", Severity.High, i));
        }

        var received = await reading;
        Assert.Equal(Enumerable.Range(1, events), received.Select(e => e.Context.Tid));
        (await detectionsReading).AssertContiguous(1, events / 100);

        var status = await client.GetStatusAsync(new GetStatusRequest());
        var stalledEntry = status.Clients.Single(c => c.Kind == StreamKind.Events && c.Dropped > 0);
        Assert.True(stalledEntry.Dropped + stalledEntry.Sent <= events);
        Assert.True(stalledEntry.Dropped >= events / 2, $"dropped {stalledEntry.Dropped}");
        Assert.Equal(0ul, status.Clients.Single(c => c.Kind == StreamKind.Events && c.Sent == events).Dropped);
        Assert.Equal(events / 100, (int)status.Clients.Single(c => c.Kind == StreamKind.Detections).Sent);
        cts.Cancel();
        stalled.Dispose();
    }

    [Fact]
    public async Task A_slow_reader_gets_events_in_order_the_newest_last_and_every_drop_counted()
    {
        await using var server = await ServerHarness.StartAsync(o => o.EventBufferSize = 16);
        using var cts = new CancellationTokenSource();
        var call = server.Client().StreamEvents(new StreamEventsRequest(), cancellationToken: cts.Token);
        await Wait.UntilAsync(() => server.Broadcaster.SubscriberCount == 1, "the subscriber");

        for (var i = 1; i <= 200_000; i++) server.Broadcaster.OnEvent(Event(i));
        server.Broadcaster.OnEvent(Event(-1)); // a marker: the newest event always survives drop-oldest

        var got = new List<Event>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await call.ResponseStream.MoveNext(timeout.Token))
        {
            got.Add(call.ResponseStream.Current);
            if (call.ResponseStream.Current.Context.Tid == -1) break;
        }
        var tids = got.Select(e => e.Context.Tid).Where(t => t > 0).ToList();
        Assert.Equal(tids.Order(), tids); // what arrives is in order
        Assert.True(tids.Count < 200_000);
        var status = await server.Client().GetStatusAsync(new GetStatusRequest());
        Assert.Equal(200_000 - tids.Count, (int)status.Clients.Single().Dropped);
        cts.Cancel();
    }
}
