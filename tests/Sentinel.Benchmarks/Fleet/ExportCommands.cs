using System.Diagnostics;
using Google.Protobuf;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.Benchmarks.Server;
using Sentinel.Contracts;
using Sentinel.Fleet;
using Sentinel.Fleet.Export;
using Sentinel.Server;
using Sentinel.TestSupport;

namespace Sentinel.Benchmarks.Fleet;

/// <summary>The export benchmarks and the fleet load generator, as benchmark commands.</summary>
internal static class ExportCommands
{
    /// <summary>
    /// `fleet-load --nats URLS [--hosts 50] [--rate 1000] [--seconds 30] [--replicas 1] [--sync full|normal]`:
    /// N synthetic hosts exporting through the agent's exporter at RATE detections/s each, for SECONDS (0 = until
    /// Ctrl-C). Prints one progress line per second and the totals.
    /// </summary>
    public static int FleetLoad(string[] args)
    {
        var o = Args(args);
        if (!o.TryGetValue("--nats", out var urls)) { Console.Error.WriteLine("fleet-load: --nats URL[,URL...] is required"); return 2; }
        var hosts = int.Parse(o.GetValueOrDefault("--hosts", "50"));
        var rate = double.Parse(o.GetValueOrDefault("--rate", "1000"));
        var seconds = double.Parse(o.GetValueOrDefault("--seconds", "30"));
        var replicas = int.Parse(o.GetValueOrDefault("--replicas", "1"));
        var sync = Enum.Parse<JournalSync>(o.GetValueOrDefault("--sync", "normal"), ignoreCase: true);
        return RunFleetLoad(urls, hosts, rate, seconds, replicas, sync).GetAwaiter().GetResult();
    }

    private static async Task<int> RunFleetLoad(string urls, int hosts, double rate, double seconds, int replicas, JournalSync sync)
    {
        var fleet = new FleetOptions { Servers = FleetOptions.ParseServers(urls) };
        await using var load = await ExportLoadGenerator.StartAsync(hosts, fleet, new ExportOptions { Replicas = replicas }, sync);
        using var stop = seconds > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(seconds)) : new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        var emitting = load.EmitAtRateAsync(rate, stop.Token);
        var clock = Stopwatch.StartNew();
        while (!stop.IsCancellationRequested)
        {
            try { await Task.Delay(1000, stop.Token); } catch (OperationCanceledException) { }
            var committed = load.Hosts.Sum(h => (long)h.Journal.Range.Last);
            var acked = load.Hosts.Sum(h => (long)h.Exporter!.Cursor);
            Console.WriteLine($"fleet-load: {clock.Elapsed.TotalSeconds:0}s {hosts} hosts committed={committed} exported={acked} ({acked / clock.Elapsed.TotalSeconds:0}/s)");
        }
        await emitting;
        var last = load.Hosts.Min(h => h.Journal.Range.Last);
        await load.WaitExportedAsync(last, TimeSpan.FromMinutes(2));
        Console.WriteLine($"fleet-load: done, {load.Hosts.Sum(h => (long)h.Journal.Range.Last)} detections from {hosts} hosts on the stream");
        return 0;
    }

    /// <summary>
    /// `export-rate [--count 20000] [--sync full]`: one agent's export rate to one node and to an R3 cluster, against
    /// the journal's commit rate alone, in the same run. Each figure: COUNT detections handed to the journal at once;
    /// commit-only = COUNT / time until all are committed with no exporter; export = COUNT / time until the export
    /// cursor (the stream's acks) reaches the last one, with the exporter running alongside the commits.
    /// </summary>
    public static int ExportRate(string[] args)
    {
        var o = Args(args);
        var count = int.Parse(o.GetValueOrDefault("--count", "20000"));
        var rounds = int.Parse(o.GetValueOrDefault("--rounds", "3"));
        var sync = Enum.Parse<JournalSync>(o.GetValueOrDefault("--sync", "full"), ignoreCase: true);
        return RunExportRate(count, rounds, sync).GetAwaiter().GetResult();
    }

    private static async Task<int> RunExportRate(int count, int rounds, JournalSync sync)
    {
        using var single = await NatsServers.StartSingleAsync();
        using var cluster = await NatsServers.StartClusterAsync();
        Console.WriteLine($"export-rate: {count} detections per round, {rounds} rounds, journal sync {sync}; best round shown, detections/s");
        var baseline = await MeasureAsync(null, 1, count, rounds, sync);
        var one = await MeasureAsync(single.Urls, 1, count, rounds, sync);
        var r3 = await MeasureAsync(cluster.Urls, 3, count, rounds, sync);
        var drainOne = await MeasureBacklogAsync(single.Urls, 1, count, sync);
        var drainR3 = await MeasureBacklogAsync(cluster.Urls, 3, count, sync);
        var rawOne = await MeasureRawPublishAsync(single.Urls, 1, count);
        var rawR3 = await MeasureRawPublishAsync(cluster.Urls, 3, count);
        Console.WriteLine($"| journal commit alone | {baseline.Commit:0} | 1.00 |");
        Console.WriteLine($"| export of a committed backlog alone, 1 node | {drainOne:0} | {drainOne / baseline.Commit:0.00} |");
        Console.WriteLine($"| export of a committed backlog alone, R3 cluster | {drainR3:0} | {drainR3 / baseline.Commit:0.00} |");
        Console.WriteLine($"| a bare JetStream publisher (same bytes, ids and window), 1 node | {rawOne:0} | {rawOne / baseline.Commit:0.00} | exporter/bare {drainOne / rawOne:0.00} |");
        Console.WriteLine($"| a bare JetStream publisher (same bytes, ids and window), R3 cluster | {rawR3:0} | {rawR3 / baseline.Commit:0.00} | exporter/bare {drainR3 / rawR3:0.00} |");
        Console.WriteLine($"| commit, exporting to 1 node | {one.Commit:0} | {one.Commit / baseline.Commit:0.00} |");
        Console.WriteLine($"| export to 1 node (acked) | {one.Export:0} | {one.Export / baseline.Commit:0.00} |");
        Console.WriteLine($"| commit, exporting to R3 cluster | {r3.Commit:0} | {r3.Commit / baseline.Commit:0.00} |");
        Console.WriteLine($"| export to R3 cluster (acked) | {r3.Export:0} | {r3.Export / baseline.Commit:0.00} |");
        return 0;
    }

    private static async Task<(double Commit, double Export)> MeasureAsync(string? urls, int replicas, int count, int rounds, JournalSync sync)
    {
        var fleet = urls is null ? null : new FleetOptions { Servers = FleetOptions.ParseServers(urls), Stream = $"BENCH_R{replicas}" };
        await using var load = await ExportLoadGenerator.StartAsync(1, fleet, new ExportOptions { Replicas = replicas }, sync, $"bench-r{replicas}");
        var host = load.Hosts[0];
        // Warm-up: connection, stream creation, JIT.
        load.Emit(1000);
        await load.WaitCommittedAsync(1000);
        if (fleet is not null) await load.WaitExportedAsync(1000, TimeSpan.FromMinutes(1));
        double bestCommit = 0, bestExport = 0;
        for (var round = 0; round < rounds; round++)
        {
            var target = host.Journal.Range.Last + (ulong)count;
            var clock = Stopwatch.StartNew();
            load.Emit(count, round * (long)count);
            await load.WaitCommittedAsync(target);
            var commit = clock.Elapsed;
            if (fleet is not null) await load.WaitExportedAsync(target, TimeSpan.FromMinutes(5));
            var export = clock.Elapsed;
            bestCommit = Math.Max(bestCommit, count / commit.TotalSeconds);
            bestExport = Math.Max(bestExport, count / export.TotalSeconds);
            Console.WriteLine($"  {(urls is null ? "commit only" : $"R{replicas}")} round {round + 1}: committed in {commit.TotalMilliseconds:0} ms" +
                              (fleet is null ? "" : $", exported (acked) in {export.TotalMilliseconds:0} ms, lag after commit {(export - commit).TotalMilliseconds:0} ms"));
        }
        return (bestCommit, fleet is null ? 0 : bestExport);
    }

    /// <summary>COUNT detections committed first with the exporter stopped; then the time for the exporter alone to publish them all.</summary>
    private static async Task<double> MeasureBacklogAsync(string urls, int replicas, int count, JournalSync sync)
    {
        var fleet = new FleetOptions { Servers = FleetOptions.ParseServers(urls), Stream = $"BENCH_R{replicas}" }; // the stream the concurrent measurement made
        await using var load = await ExportLoadGenerator.StartAsync(1, fleet, new ExportOptions { Replicas = replicas }, sync, $"backlog-r{replicas}", exportNow: false);
        load.Emit(count);
        await load.WaitCommittedAsync((ulong)count);
        var clock = Stopwatch.StartNew();
        var cpu = CpuSince.Now();
        await load.StartExportAsync();
        try
        {
            await load.WaitExportedAsync((ulong)count, TimeSpan.FromMinutes(2));
        }
        catch (OperationCanceledException)
        {
            var e = load.Hosts[0].Exporter!;
            var status = new V1.AgentStatus();
            e.Contribute(status);
            throw new TimeoutException($"backlog not exported: cursor {e.Cursor}, published {e.Published}, errors {e.PublishErrors}: {status.Export}");
        }
        var rate = count / clock.Elapsed.TotalSeconds;
        var (self, servers) = cpu.Used();
        Console.WriteLine($"  R{replicas} backlog of {count}: exported (acked) in {clock.Elapsed.TotalMilliseconds:0} ms, connect and stream check included; " +
                          $"CPU: exporter process {self:0.00} s ({self * 1e6 / count:0} µs/detection), nats-server(s) {servers:0.00} s ({servers * 1e6 / count:0} µs/detection)");
        return rate;
    }

    /// <summary>
    /// What the NATS servers take from one publisher at most: the same payloads, each with its Nats-Msg-Id, pipelined
    /// with the exporter's window (<see cref="ExportOptions.MaxInFlight"/>), into the stream the exporter used, with no
    /// journal behind it. The exporter's backlog rate over this one is the share of the limit the agent reaches.
    /// </summary>
    private static async Task<double> MeasureRawPublishAsync(string urls, int replicas, int count)
    {
        var payloads = Enumerable.Range(0, count).Select(i =>
        {
            var d = DetectionConverter.ToProto(DeliveryHarness.Sample(i));
            d.Sequence = d.AgentSequence = (ulong)i + 1;
            d.JournalId = "raw";
            d.HostId = $"raw-r{replicas}";
            return d.ToByteArray();
        }).ToList();
        await using var nats = new NatsConnection(new FleetOptions { Servers = FleetOptions.ParseServers(urls) }.ToNatsOpts("bench-raw") with
        {
            RequestTimeout = TimeSpan.FromSeconds(60),
        });
        await nats.ConnectAsync();
        var js = new NatsJSContext(nats);
        var subject = FleetSubjects.Detections($"raw-r{replicas}");
        var window = new ExportOptions().MaxInFlight;
        var inflight = new Queue<ValueTask<PubAckResponse>>(window);
        var runId = Guid.NewGuid().ToString("N")[..8];
        var cpu = CpuSince.Now();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            inflight.Enqueue(js.PublishAsync(subject, payloads[i], headers: new NatsHeaders { ["Nats-Msg-Id"] = FleetSubjects.MessageId(runId, (ulong)i + 1) }));
            if (inflight.Count >= window) (await inflight.Dequeue()).EnsureSuccess();
        }
        while (inflight.Count > 0) (await inflight.Dequeue()).EnsureSuccess();
        var rate = count / clock.Elapsed.TotalSeconds;
        var (self, servers) = cpu.Used();
        Console.WriteLine($"  R{replicas} bare publisher, {count}: acked in {clock.Elapsed.TotalMilliseconds:0} ms; " +
                          $"CPU: publisher {self * 1e6 / count:0} µs/detection, nats-server(s) {servers * 1e6 / count:0} µs/detection");
        return rate;
    }

    /// <summary>CPU seconds of this process and of every nats-server, from a starting point.</summary>
    private readonly record struct CpuSince(double Self, double Servers)
    {
        public static CpuSince Now() => new(CpuSeconds(Environment.ProcessId), NatsServersCpuSeconds());

        public (double Self, double Servers) Used() => (CpuSeconds(Environment.ProcessId) - Self, NatsServersCpuSeconds() - Servers);
    }

    /// <summary>User + system CPU of a process, from /proc (clock ticks of 10 ms).</summary>
    private static double CpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0; // utime, stime
        }
        catch (IOException) { return 0; }
    }

    private static double NatsServersCpuSeconds() =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => int.TryParse(n, out _))
            .Where(n => { try { return File.ReadAllText($"/proc/{n}/comm").Trim() == "nats-server"; } catch (IOException) { return false; } })
            .Sum(n => CpuSeconds(int.Parse(n!)));

    private static Dictionary<string, string> Args(string[] args)
    {
        var o = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2) o[args[i]] = args[i + 1];
        return o;
    }
}
