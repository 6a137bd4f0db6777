using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Sentinel.Contracts;
using Sentinel.Server;

namespace Sentinel.Benchmarks.Server;

/// <summary>
/// `delivery-rate [DETECTIONS] [ROUNDS]`: the journal's and the streams' rates in one process, conditions alternating
/// round by round so drift on a shared machine hits each: converting+serializing alone (the work no journal can
/// avoid), committing with nobody listening (FULL sync), and committing while 1, 4 and 8 followers each receive every
/// detection (from the hand-off until the last follower holds the last one). Medians per detection, and ratios.
/// The same conditions as StreamThroughputBenchmarks/JournalCommitBenchmarks, without BenchmarkDotNet's build per run.
/// </summary>
internal static class DeliveryRate
{
    private static readonly int[] Followers = [1, 4, 8];

    public static int Run(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var results = new Dictionary<string, List<double>> { ["serialize"] = [], ["commit"] = [] };
        foreach (var n in Followers) results[$"stream x{n}"] = [];
        var samples = Enumerable.Range(0, count).Select(i => DeliveryHarness.Sample(i)).ToList();
        var harness = new DeliveryHarness(JournalSync.Full);
        try
        {
            harness.EmitAndCommitAsync(1000).GetAwaiter().GetResult();
            for (var round = 0; round < rounds; round++)
            {
                var sw = Stopwatch.StartNew();
                long bytes = 0;
                foreach (var d in samples) bytes += DetectionConverter.ToProto(d).ToByteArray().Length;
                results["serialize"].Add(sw.Elapsed.TotalMicroseconds / count);

                sw.Restart();
                harness.EmitAndCommitAsync(count).GetAwaiter().GetResult();
                results["commit"].Add(sw.Elapsed.TotalMicroseconds / count);

                foreach (var n in Followers)
                {
                    var after = harness.Journal.Range.Last;
                    var followers = Enumerable.Range(0, n).Select(_ => new CountingFollower(harness.NewClient(), after)).ToList();
                    try
                    {
                        sw.Restart();
                        harness.EmitAndCommitAsync(count).GetAwaiter().GetResult();
                        foreach (var f in followers) f.WaitFor(after + (ulong)count);
                        results[$"stream x{n}"].Add(sw.Elapsed.TotalMicroseconds / count);
                    }
                    finally
                    {
                        foreach (var f in followers) f.Dispose();
                    }
                }
            }
        }
        finally
        {
            harness.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        Console.WriteLine($"{count} detections a round, {rounds} rounds, FULL sync; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        var commit = Statistics.UpperMedian(results["commit"]);
        var serialize = Statistics.UpperMedian(results["serialize"]);
        foreach (var (name, list) in results)
        {
            var median = Statistics.UpperMedian(list);
            var ratio = name == "serialize" ? "" : name == "commit" ? $"  {median / serialize:F2}x serialize" : $"  {median / commit:F2}x commit";
            Console.WriteLine($"  {name,-10} median {median,8:F2} µs per detection = {1e6 / median,8:F0}/s{ratio}  " +
                              $"(rounds: {string.Join(", ", list.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))})");
        }
        return 0;
    }
}
