using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Contracts;
using Sentinel.Server;
using Sentinel.Server.Streaming;
using Sentinel.V1;
using Process = System.Diagnostics.Process;

namespace Sentinel.Benchmarks.Server;

/// <summary>
/// `journal-capacity [DETECTIONS] [ROUNDS] [FOLLOWERS] [direct|proto]`: the journal's and the streams' cost in CPU time rather than
/// wall clock, so a shared 2-core machine gives a per-core capacity instead of a rate of everything that ran.
/// Per round, on the same kind of detections: serializing them alone (the same-run baseline, the producer's CPU);
/// committing them with nobody listening (the producer thread's CPU, the journal writer's own CPU from
/// <see cref="Sentinel.Server.Journal.DetectionJournal.WriterCpuTime"/>, and the whole process's); then committing
/// them while FOLLOWERS (4) stream clients in another process (this binary, `journal-capacity-follower`) each
/// receive all of them: the server process's extra CPU over the commit alone, per delivered detection.
/// Conditions alternate within a round; figures are medians. `proto` adds an after-commit sink that takes the
/// converted detection (as the JSON printer does), so the journal prepares detections from their conversion
/// rather than writing them straight to bytes.
/// </summary>
internal static class JournalCapacity
{
    public static int Run(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var followers = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4;
        var proto = args.Length > 3 && args[3] == "proto";
        var m = new Dictionary<string, List<double>>();
        void Add(string name, double value) => (m.TryGetValue(name, out var l) ? l : m[name] = []).Add(value);

        var samples = Enumerable.Range(0, count).Select(i => DeliveryHarness.Sample(i)).ToList();
        var harness = new DeliveryHarness(JournalSync.Full, proto ? new ConversionTaker() : null);
        var registry = harness.App.Services.GetRequiredService<StreamClientRegistry>();
        try
        {
            // Warm-up: the first rounds of 20,000 ran 1.5-2x slower than the rest (tiered JIT), so two full ones first.
            for (var i = 0; i < 2; i++) harness.EmitAndCommitAsync(count).GetAwaiter().GetResult();
            for (var round = 0; round < rounds; round++)
            {
                // Baselines: the work no journal can avoid, on this thread.
                var cpu = CpuClock.ThreadNs();
                long bytes = 0;
                foreach (var d in samples) bytes += DetectionConverter.ToProto(d).ToByteArray().Length;
                Add("serialize: ToProto+ToByteArray", PerItem(CpuClock.ThreadNs() - cpu, count));
                cpu = CpuClock.ThreadNs();
                foreach (var d in samples) bytes += DetectionWireWriter.ToByteArray(d).Length;
                Add("serialize: DetectionWireWriter", PerItem(CpuClock.ThreadNs() - cpu, count));
                // What numbering costs the writer at most (PreparedDetection.Number): a new payload 8 bytes longer, and the copy.
                var bodies = samples.Select(d => DetectionWireWriter.ToByteArray(d)).ToList();
                cpu = CpuClock.ThreadNs();
                foreach (var body in bodies)
                {
                    var numbered = new byte[body.Length + 8];
                    body.CopyTo(numbered, 0);
                    bytes += numbered.Length;
                }
                Add("copy: a payload into a new array (Number's copy)", PerItem(CpuClock.ThreadNs() - cpu, count));

                var alone = Commit(harness, count, "commit", Add, null);
                if (followers == 0) continue; // the commit alone, e.g. under perf

                var after = harness.Journal.Range.Last;
                using var follower = StartFollower(harness.Address, after, after + (ulong)count, followers);
                WaitUntil(() => registry.Snapshot().Count(c => c.Kind == StreamKind.Detections) >= followers, follower,
                          "the followers to connect");
                var streamed = Commit(harness, count, $"stream x{followers}", Add, follower);
                var report = follower.StandardOutput.ReadToEnd().Trim(); // "RECEIVED CPU_NS": the follower's own cost
                var fields = report.Split(' ');
                if (fields.Length != 2 || long.Parse(fields[0], CultureInfo.InvariantCulture) != (long)count * followers)
                    throw new InvalidOperationException($"the follower process reported '{report}', expected {count * followers} received");
                Add($"stream x{followers}: server CPU per delivery (over commit)",
                    PerItem(streamed.ProcessNs - alone.ProcessNs, (long)count * followers));
                Add($"stream x{followers}: server bytes allocated per delivery (over commit)",
                    (double)(streamed.Allocated - alone.Allocated) / ((long)count * followers));
                Add($"stream x{followers}: follower process CPU per delivery",
                    PerItem(long.Parse(fields[1], CultureInfo.InvariantCulture), (long)count * followers));
            }
        }
        finally
        {
            harness.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        Console.WriteLine($"{count} detections a round, {rounds} rounds, FULL sync, prepared {(proto ? "from the conversion" : "directly")}, {followers} followers in another process; " +
                          $"{Environment.ProcessorCount} cores; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        foreach (var (name, list) in m)
        {
            var median = Statistics.UpperMedian(list);
            var unit = name.Contains("bytes") ? "B  " : name.Contains("wall") ? "µs wall" : "µs CPU";
            var perCore = name.Contains("bytes") ? "" : name.Contains("wall") ? $" = {1e6 / median,9:F0}/s" : $" = {1e6 / median,9:F0}/s per core";
            Console.WriteLine($"  {name,-62} {median,8:F2} {unit}{perCore}  (rounds: {string.Join(", ", list.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)))})");
        }
        return 0;
    }

    /// <summary>Takes the converted detection after commit and drops it: the cost of a printer without its output.</summary>
    private sealed class ConversionTaker : IProtoDetectionSink
    {
        public void OnDetection(Sentinel.V1.Detection detection) { }
        public void OnDetection(Sentinel.Events.Detection detection) { }
    }

    private readonly record struct Cost(long ProcessNs, long Allocated);

    /// <summary>Commits <paramref name="count"/> detections (and waits for the follower process, if any) and records the CPU each part took.</summary>
    private static Cost Commit(DeliveryHarness harness, int count, string name, Action<string, double> add, Process? follower)
    {
        var journal = harness.Journal;
        var target = journal.Range.Last + (ulong)count;
        var wall = Stopwatch.StartNew();
        var process = CpuClock.ProcessNs();
        var writer = journal.WriterCpuTime;
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var producer = CpuClock.ThreadNs();
        for (var i = 0; i < count; i++) journal.OnDetection(DeliveryHarness.Sample(i));
        producer = CpuClock.ThreadNs() - producer;
        while (journal.Range.Last < target) journal.WaitForCommitAsync(journal.Range.Last, CancellationToken.None).GetAwaiter().GetResult();
        if (follower is not null && !follower.WaitForExit(TimeSpan.FromMinutes(5)))
            throw new TimeoutException("the follower process did not receive every detection within 5 minutes");
        var cost = new Cost(CpuClock.ProcessNs() - process, GC.GetTotalAllocatedBytes(precise: true) - allocated);
        add($"{name}: wall clock", PerItem(wall.Elapsed.Ticks * 100, count));
        add($"{name}: producer thread (build + prepare + hand-off)", PerItem(producer, count));
        add($"{name}: journal writer thread", PerItem((journal.WriterCpuTime - writer).Ticks * 100, count));
        add($"{name}: whole process", PerItem(cost.ProcessNs, count));
        add($"{name}: bytes allocated per detection", (double)cost.Allocated / count);
        return cost;
    }

    private static double PerItem(long ns, long count) => ns / 1000.0 / count;

    private static Process StartFollower(string address, ulong after, ulong last, int streams)
    {
        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") info.ArgumentList.Add(typeof(JournalCapacity).Assembly.Location);
        foreach (var a in (string[])["journal-capacity-follower", address, after.ToString(CultureInfo.InvariantCulture),
                                      last.ToString(CultureInfo.InvariantCulture), streams.ToString(CultureInfo.InvariantCulture)])
            info.ArgumentList.Add(a);
        return Process.Start(info) ?? throw new InvalidOperationException($"cannot start {self}");
    }

    private static void WaitUntil(Func<bool> condition, Process follower, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            if (follower.HasExited) throw new InvalidOperationException($"the follower process exited ({follower.ExitCode}) before {what}");
            if (deadline.Elapsed > TimeSpan.FromMinutes(1)) throw new TimeoutException($"timed out waiting for {what}");
            Thread.Sleep(10); // polling a benchmark's setup, outside any measured interval
        }
    }

    /// <summary>
    /// `journal-capacity-follower ADDRESS AFTER LAST STREAMS`: STREAMS clients, each on its own connection, follow
    /// the stream from AFTER and parse every detection (as a SIEM client would) until LAST; checks each got every
    /// sequence in order, then prints "RECEIVED CPU_NS" (this process's CPU time from the first detection) and exits.
    /// </summary>
    public static int Follow(string[] args)
    {
        var address = args[0];
        var after = ulong.Parse(args[1], CultureInfo.InvariantCulture);
        var last = ulong.Parse(args[2], CultureInfo.InvariantCulture);
        var streams = int.Parse(args[3], CultureInfo.InvariantCulture);
        var received = Task.WhenAll(Enumerable.Range(0, streams).Select(_ => Task.Run(() => FollowOne(address, after, last))))
                           .WaitAsync(TimeSpan.FromMinutes(5)).GetAwaiter().GetResult();
        Console.WriteLine($"{received.Sum()} {CpuClock.ProcessNs() - Interlocked.Read(ref _cpuAtFirst)}");
        return 0;
    }

    // This process's CPU when the first detection arrived: the runtime's start and the connections are not a delivery's cost.
    private static long _cpuAtFirst;

    private static async Task<long> FollowOne(string address, ulong after, ulong last)
    {
        using var channel = GrpcChannel.ForAddress(address);
        using var stop = new CancellationTokenSource();
        using var call = new DetectionService.DetectionServiceClient(channel)
            .StreamDetections(new StreamDetectionsRequest { AfterSequence = after, Follow = true }, cancellationToken: stop.Token);
        long received = 0;
        var expected = after + 1;
        try
        {
            await foreach (var d in call.ResponseStream.ReadAllAsync(stop.Token))
            {
                if (received == 0) Interlocked.CompareExchange(ref _cpuAtFirst, CpuClock.ProcessNs(), 0);
                if (d.Sequence != expected) throw new InvalidOperationException($"expected sequence {expected}, got {d.Sequence}");
                received++;
                if (expected++ == last) break;
            }
        }
        finally
        {
            stop.Cancel();
        }
        return received;
    }
}
