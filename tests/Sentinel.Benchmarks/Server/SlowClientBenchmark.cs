using System.Diagnostics;
using System.Globalization;
using System.Text;
using Sentinel.Server;
using Sentinel.V1;

namespace Sentinel.Benchmarks.Server;

/// <summary>
/// `slow-clients [DETECTIONS] [ROUNDS]`: the pipeline's rate (detections handed to the journal and committed,
/// per second) with 200 StreamDetections clients connected, all reading, against the same with 20 of them
/// stalled (connected, never reading). The two conditions alternate round by round in one process, so drift
/// on a shared machine hits both; the figure is the ratio of the medians.
/// </summary>
internal static class SlowClientBenchmark
{
    private const int Clients = 200, Stalled = 20;

    public static int Run(string[] args)
    {
        var detections = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var rates = new Dictionary<int, List<double>> { [0] = [], [Stalled] = [] };
        for (var round = 0; round < rounds; round++)
            foreach (var stalled in new[] { 0, Stalled })
                rates[stalled].Add(Measure(detections, stalled).GetAwaiter().GetResult());

        var report = new StringBuilder();
        report.AppendLine($"{Clients} clients, {detections} detections per round, {rounds} rounds; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        foreach (var (stalled, list) in rates)
            report.AppendLine($"  {stalled,2} stalled: median {Statistics.UpperMedian(list):F0} detections/s committed (rounds: {string.Join(", ", list.Select(r => r.ToString("F0", CultureInfo.InvariantCulture)))})");
        report.AppendLine($"  ratio stalled / none: {Statistics.UpperMedian(rates[Stalled]) / Statistics.UpperMedian(rates[0]):F3}");
        Console.WriteLine(report);
        return 0;
    }

    /// <summary>Committed detections per second, from the first hand-off to the last commit; then every reader
    /// must have received all of them (a check, not part of the rate).</summary>
    private static async Task<double> Measure(int detections, int stalled)
    {
        await using var server = new DeliveryHarness(JournalSync.Full);
        await server.EmitAndCommitAsync(100);
        var after = server.Journal.Range.Last;
        var readers = Enumerable.Range(0, Clients - stalled).Select(_ => new CountingFollower(server.NewClient(), after)).ToList();
        var stalledCalls = Enumerable.Range(0, stalled)
            .Select(_ => server.NewClient().StreamDetections(new StreamDetectionsRequest { AfterSequence = after, Follow = true }))
            .ToList();
        try
        {
            var sw = Stopwatch.StartNew();
            await server.EmitAndCommitAsync(detections);
            var rate = detections / sw.Elapsed.TotalSeconds;
            var target = after + (ulong)detections;
            foreach (var r in readers) r.WaitFor(target);
            return rate;
        }
        finally
        {
            foreach (var r in readers) r.Dispose();
            foreach (var c in stalledCalls) c.Dispose();
        }
    }

}
