using System.Diagnostics;
using Process = System.Diagnostics.Process;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.Benchmarks.Server;
using Sentinel.Contracts;
using Sentinel.Fleet;
using Sentinel.Fleet.Gateway;
using Sentinel.Server;
using Sentinel.TestSupport;
using Sentinel.V1;

namespace Sentinel.Benchmarks.Fleet;

/// <summary>
/// `fleet-gateway [throughput|latency|memory]...`: the fleet gateway against real nats-servers, figures printed for
/// docs/BENCHMARKS.md. Each figure comes with its baseline from the same run.
/// - throughput: 50 synthetic hosts fill the stream; one gRPC client reads it all through the gateway, against
///   reading the same messages straight from NATS (same consumer settings, no gRPC); then the client follows live
///   while the 50 hosts publish flat out.
/// - latency: R3 cluster; light load (one detection at a time, 20/s); from the exporter's publish call (right after
///   the journal commit) until a SIEM following through the gateway holds it; p50/p99, against the publish ack alone.
/// - memory: the real `sentinel fleet serve` process; RSS while a slow client reads a stream much larger than it.
/// </summary>
internal static class GatewayBenchmarks
{
    private const int Hosts = 50;

    public static int Run(string[] args)
    {
        var which = args.Length == 0 ? ["throughput", "latency", "memory"] : args;
        foreach (var name in which)
        {
            switch (name)
            {
                case "throughput": ThroughputAsync(100_000).GetAwaiter().GetResult(); break;
                case "latency": LatencyAsync(600).GetAwaiter().GetResult(); break;
                case "memory": MemoryAsync(300_000).GetAwaiter().GetResult(); break;
                default: Console.Error.WriteLine($"unknown fleet-gateway benchmark '{name}' (throughput, latency, memory)"); return 2;
            }
        }
        return 0;
    }

    private static byte[] Payload(string host, ulong seq)
    {
        var d = DetectionConverter.ToProto(DeliveryHarness.Sample((long)seq));
        d.Sequence = d.AgentSequence = seq;
        d.HostId = host;
        d.JournalId = "journal-" + host;
        return d.ToByteArray();
    }

    private static async Task<NatsConnection> ConnectAsync(string urls, int replicas)
    {
        var nats = new NatsConnection(new FleetOptions { Servers = FleetOptions.ParseServers(urls) }.ToNatsOpts("bench") with
        {
            RequestTimeout = TimeSpan.FromSeconds(60), // acks on a machine shared with many builds
        });
        await nats.ConnectAsync();
        var js = new NatsJSContext(nats);
        await js.CreateOrUpdateStreamAsync(new StreamConfig(FleetOptions.DefaultStream, [FleetSubjects.AllDetections])
        {
            NumReplicas = replicas, Storage = StreamConfigStorage.File, DuplicateWindow = TimeSpan.FromMinutes(2),
        });
        return nats;
    }

    /// <summary>Each of <see cref="Hosts"/> hosts publishes <paramref name="perHost"/> detections, pipelined (32 acks in flight per host).</summary>
    private static async Task<long> PublishAsync(NatsConnection nats, int perHost, int round)
    {
        var js = new NatsJSContext(nats);
        long bytes = 0;
        await Task.WhenAll(Enumerable.Range(0, Hosts).Select(h => Task.Run(async () =>
        {
            var host = $"host-{h:00}";
            var inflight = new Queue<ValueTask<PubAckResponse>>();
            for (var i = 1; i <= perHost; i++)
            {
                var seq = (ulong)(round * perHost + i);
                var payload = Payload(host, seq);
                Interlocked.Add(ref bytes, payload.Length);
                inflight.Enqueue(js.PublishAsync(FleetSubjects.Detections(host), payload,
                    headers: new NatsHeaders { ["Nats-Msg-Id"] = FleetSubjects.MessageId("journal-" + host, seq) }));
                if (inflight.Count >= 32) (await inflight.Dequeue()).EnsureSuccess();
            }
            while (inflight.Count > 0) (await inflight.Dequeue()).EnsureSuccess();
        })));
        return bytes;
    }

    private static async Task<WebApplication> StartGatewayAsync(string urls)
    {
        var app = FleetGateway.Build(new GatewayOptions
        {
            Server = new ServerOptions { Listen = "127.0.0.1:0" },
            Fleet = new FleetOptions { Servers = FleetOptions.ParseServers(urls) },
        });
        await app.StartAsync();
        return app;
    }

    private static DetectionService.DetectionServiceClient Client(string address) =>
        new(GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = 16 << 20 }));

    private static async Task ThroughputAsync(int total)
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var nats = await ConnectAsync(servers.Urls, 1);
        var sw = Stopwatch.StartNew();
        var bytes = await PublishAsync(nats, total / Hosts, 0);
        Console.WriteLine($"throughput: {Hosts} hosts published {total} detections ({bytes / total} B each) in {sw.Elapsed.TotalSeconds:0.00}s " +
                          $"= {total / sw.Elapsed.TotalSeconds:0} /s (pipelined publish with acks, one node)");

        // The shipped gateway process, as a user runs it; its CPU time per detection is the machine-independent figure.
        using var gateway = await GatewayProcess.StartAsync(servers.Urls);
        var client = gateway.Client;
        for (var run = 0; run < 5; run++) // the first two warm the gateway's JIT up
        {
            // Baseline: the same messages through the same kind of consumer, straight from NATS, no gRPC, no decode.
            sw.Restart();
            var raw = 0;
            var consumer = await new NatsJSContext(nats).CreateOrUpdateConsumerAsync(FleetOptions.DefaultStream, new ConsumerConfig
            {
                Name = "bench-" + Guid.NewGuid().ToString("N"), FilterSubject = FleetSubjects.AllDetections,
                AckPolicy = ConsumerConfigAckPolicy.None, MemStorage = true, InactiveThreshold = TimeSpan.FromSeconds(30),
            });
            while (raw < total)
                await foreach (var _ in consumer.FetchNoWaitAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = 256 })) raw++;
            var rawRate = raw / sw.Elapsed.TotalSeconds;

            sw.Restart();
            var cpuBefore = gateway.CpuTime();
            var received = 0;
            using (var call = client.StreamDetections(new StreamDetectionsRequest()))
                await foreach (var d in call.ResponseStream.ReadAllAsync())
                    if (d.Sequence == (ulong)++received) { } else throw new InvalidOperationException($"gap at {received}: {d.Sequence}");
            var rate = received / sw.Elapsed.TotalSeconds;
            var cpuPerDetection = (gateway.CpuTime() - cpuBefore).TotalMicroseconds / received;
            Console.WriteLine($"throughput run {run + 1}: gateway to one gRPC client {received} detections in {sw.Elapsed.TotalSeconds:0.00}s = {rate:0} /s; " +
                              $"baseline NATS consumer alone {rawRate:0} /s; ratio gateway/raw = {rate / rawRate:0.00}; " +
                              $"gateway process CPU {cpuPerDetection:0.0} µs/detection (one core: {1e6 / cpuPerDetection:0} /s)");
        }

        // Live: the client follows while 50 hosts publish flat out.
        var target = (ulong)total * 2;
        var follow = Task.Run(async () =>
        {
            using var call = client.StreamDetections(new StreamDetectionsRequest { AfterSequence = (ulong)total, Follow = true });
            await foreach (var d in call.ResponseStream.ReadAllAsync())
                if (d.Sequence >= target) return;
        });
        sw.Restart();
        await PublishAsync(nats, total / Hosts, 1);
        var published = sw.Elapsed.TotalSeconds;
        await follow;
        Console.WriteLine($"throughput live: {Hosts} hosts published {total} in {published:0.00}s ({total / published:0} /s); the following client held " +
                          $"the last one {sw.Elapsed.TotalSeconds - published:0.000}s after the last ack ({total / sw.Elapsed.TotalSeconds:0} /s end to end)");
    }

    private static async Task LatencyAsync(int samples)
    {
        using var servers = await NatsServers.StartClusterAsync();
        await using var nats = await ConnectAsync(servers.Nodes[0].Url, 3);
        await using var gateway = await StartGatewayAsync(servers.Nodes[1].Url);
        var client = Client(SentinelServer.BoundAddresses(gateway.Services)[0]);
        var js = new NatsJSContext(nats);

        var arrived = new SemaphoreSlim(0);
        ulong expected = 0;
        using var stop = new CancellationTokenSource();
        var follower = Task.Run(async () =>
        {
            try
            {
                using var call = client.StreamDetections(new StreamDetectionsRequest { Follow = true }, cancellationToken: stop.Token);
                await foreach (var d in call.ResponseStream.ReadAllAsync(stop.Token))
                    if (d.AgentSequence == Volatile.Read(ref expected)) arrived.Release();
            }
            catch (RpcException) when (stop.IsCancellationRequested) { }
            catch (OperationCanceledException) { }
        });

        var endToEnd = new List<double>();
        var ackOnly = new List<double>();
        for (var i = 1; i <= samples + 20; i++)
        {
            var payload = Payload("host-00", (ulong)i);
            Volatile.Write(ref expected, (ulong)i);
            var start = Stopwatch.GetTimestamp();
            var ack = await js.PublishAsync(FleetSubjects.Detections("host-00"), payload,
                headers: new NatsHeaders { ["Nats-Msg-Id"] = FleetSubjects.MessageId("journal-host-00", (ulong)i) });
            var acked = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            ack.EnsureSuccess();
            if (!await arrived.WaitAsync(TimeSpan.FromSeconds(30))) throw new TimeoutException($"detection {i} never reached the client");
            var total = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (i > 20) { endToEnd.Add(total); ackOnly.Add(acked); } // the first 20 warm up
            await Task.Delay(50); // light load: 20/s
        }
        await stop.CancelAsync();
        await follower;
        Console.WriteLine($"latency (R3, light load, {samples} samples): publish -> SIEM client through the gateway " +
                          $"p50 {P(endToEnd, 50):0.00} ms p99 {P(endToEnd, 99):0.00} ms max {endToEnd.Max():0.00} ms; " +
                          $"baseline publish ack alone p50 {P(ackOnly, 50):0.00} ms p99 {P(ackOnly, 99):0.00} ms");
    }

    private static async Task MemoryAsync(int total)
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var nats = await ConnectAsync(servers.Urls, 1);
        var bytes = await PublishAsync(nats, total / Hosts, 0);
        using var gateway = await GatewayProcess.StartAsync(servers.Urls);
        var client = gateway.Client;
        var idle = Rss(gateway.Id);
        long peak = idle;
        var received = 0;
        var sw = Stopwatch.StartNew();
        using (var call = client.StreamDetections(new StreamDetectionsRequest()))
            await foreach (var _ in call.ResponseStream.ReadAllAsync())
            {
                // A slow SIEM: a 20 ms stall every 2,000 detections; the gateway must wait, not buffer.
                if (++received % 2_000 == 0)
                {
                    peak = Math.Max(peak, Rss(gateway.Id));
                    await Task.Delay(20);
                }
            }
        Console.WriteLine($"memory: stream {total} detections = {bytes / 1048576.0:0.0} MiB of payload; `sentinel fleet serve` RSS idle " +
                          $"{idle / 1048576.0:0.0} MiB, peak while a slow client read all of it {peak / 1048576.0:0.0} MiB " +
                          $"(+{(peak - idle) / 1048576.0:0.0} MiB; {received} received in {sw.Elapsed.TotalSeconds:0.0}s)");
    }

    private static long Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return 0;
    }

    private static double P(List<double> samples, int percentile)
    {
        var sorted = samples.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1)];
    }

    /// <summary>`sentinel fleet serve` on a free loopback port, with a client once it answers GetStatus.</summary>
    private sealed class GatewayProcess : IDisposable
    {
        private readonly SentinelProcess _process;

        private GatewayProcess(SentinelProcess process, DetectionService.DetectionServiceClient client) => (_process, Client) = (process, client);

        public int Id => _process.Id;
        public DetectionService.DetectionServiceClient Client { get; }

        public static async Task<GatewayProcess> StartAsync(string natsUrls)
        {
            var port = NatsServers.FreePort();
            var process = SentinelProcess.Start("fleet", "serve", "--nats", natsUrls, "--listen", $"127.0.0.1:{port}");
            var gateway = new GatewayProcess(process, Client($"http://127.0.0.1:{port}"));
            await Wait.UntilAsync(async () =>
            {
                try { await gateway.Client.GetStatusAsync(new GetStatusRequest()); return true; }
                catch (RpcException) { return false; }
            }, "the gateway to answer GetStatus", 20, () => process.OutputTail, () => process.HasExited ? "the gateway exited" : null);
            return gateway;
        }

        /// <summary>User plus system CPU time of the process so far.</summary>
        public TimeSpan CpuTime() => _process.CpuTime;

        public void Dispose() => _process.Dispose();
    }
}
