using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Sentinel.Contracts;
using Sentinel.Server;

namespace Sentinel.Benchmarks.Server;

/// <summary>
/// `journal-profile [DETECTIONS] [ROUNDS] [full|normal]`: where a journal commit's time goes. Each round times, on
/// the same detections: building them, converting and serializing them to protobuf, writing the same bytes directly
/// (DetectionWireWriter), and the whole hand-off to commit (FULL sync by default). The phases interleave round by round, so drift on a shared machine hits each; the
/// figures are medians. For the writer thread's own split, run it under `dotnet-trace collect` (see BENCHMARKS.md).
/// </summary>
internal static class JournalProfile
{
    public static int Run(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var sync = args.Length > 2 && args[2] == "normal" ? JournalSync.Normal : JournalSync.Full;
        var phases = new Dictionary<string, List<double>> { ["build"] = [], ["to proto"] = [], ["direct"] = [], ["commit"] = [] };
        var harness = new DeliveryHarness(sync);
        try
        {
            harness.EmitAndCommitAsync(1000).GetAwaiter().GetResult();
            for (var round = 0; round < rounds; round++)
            {
                var sw = Stopwatch.StartNew();
                var detections = new List<Sentinel.Events.Detection>(count);
                for (var i = 0; i < count; i++) detections.Add(DeliveryHarness.Sample(i));
                phases["build"].Add(PerItem(sw, count));

                // Converted and serialized one by one, nothing kept: as the journal's hand-off does it.
                sw.Restart();
                long bytes = 0;
                foreach (var d in detections) bytes += DetectionConverter.ToProto(d).ToByteArray().Length;
                phases["to proto"].Add(PerItem(sw, count));

                // The same bytes written straight from the detections, as the hand-off does when nothing needs the message.
                sw.Restart();
                foreach (var d in detections) bytes += DetectionWireWriter.ToByteArray(d).Length;
                phases["direct"].Add(PerItem(sw, count));

                sw.Restart();
                harness.EmitAndCommitAsync(count).GetAwaiter().GetResult();
                phases["commit"].Add(PerItem(sw, count));
            }
        }
        finally
        {
            harness.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        Console.WriteLine($"{count} detections a round, {rounds} rounds, {sync}; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        foreach (var (name, list) in phases)
            Console.WriteLine($"  {name,-10} median {Statistics.UpperMedian(list),7:F2} µs per detection (rounds: {string.Join(", ", list.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)))})");
        Console.WriteLine($"  commit: {1e6 / Statistics.UpperMedian(phases["commit"]):F0} detections/s (hand-off to committed, building included)");
        return 0;
    }

    private static double PerItem(Stopwatch sw, int count) => sw.Elapsed.TotalMicroseconds / count;

}
