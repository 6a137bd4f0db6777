using System.Diagnostics;
using System.Globalization;
using System.Text;
using Sentinel.Bpf;
using static Sentinel.Benchmarks.Capture.ProbeOverhead;

namespace Sentinel.Benchmarks.Capture;

/// <summary>
/// `capture-flood [CALLS]`: the generator pinned to CPU 0 at its full rate, the agent as deployed (built-in
/// rules, JSON detections to /dev/null) pinned to CPU 1, which cannot keep up. Two floods: identical ESRCH calls
/// (they must all arrive, alone or inside folds, with nothing lost) and distinct calls, a different unknown pid
/// each (they cannot fold: every loss must be counted and raised as SNT-0000). The counters come from the
/// agent's exit line, read after the probes are detached, the ring drained and the folds flushed.
/// </summary>
internal static class FloodBenchmark
{
    public static int Run(string[] args)
    {
        var calls = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 3_000_000;
        BpfEnvironment.EnsureReady();
        var work = Directory.CreateTempSubdirectory("sentinel-flood").FullName;
        var generator = Compile(work);
        var sentinel = TestSupport.RepoPaths.Sentinel;
        var report = new StringBuilder();
        report.Append(Flood(generator, sentinel, calls, "esrch"));
        report.Append(Flood(generator, sentinel, calls, "distinct"));
        Console.WriteLine(report);
        return 0;
    }

    internal static string Flood(string generator, string sentinel, long calls, string mode)
    {
        // Detections to a file rather than /dev/null, for the SNT-0000 windows (a page-cache write per line).
        var detections = Path.Combine(Path.GetDirectoryName(generator)!, $"detections-{mode}.jsonl");
        var agent = StartProcess($"exec taskset -c 1 {sentinel} {Agent} >{detections}", "attached");
        var sw = Stopwatch.StartNew();
        RunToEnd("taskset", $"-c 0 {generator} {calls} {mode}");
        var elapsed = sw.Elapsed.TotalSeconds;
        // SIGTERM: the agent detaches, drains, flushes the folds and prints its counters.
        agent.Terminate(TimeSpan.FromMinutes(10));
        agent.Dispose();
        var line = agent.Stderr.Split('\n').FirstOrDefault(l => l.Contains("counters:"))
                   ?? throw new InvalidOperationException($"the agent printed no counters line:\n{agent.Stderr}");
        long Field(string name) =>
            long.Parse(line.Split(' ').First(f => f.StartsWith(name + "=", StringComparison.Ordinal)).Split('=')[1].TrimEnd(';'),
                CultureInfo.InvariantCulture);
        var submitted = Field("submitted");
        var lost = Field("lost");
        var foldRecords = Field("fold-records");
        var folded = Field("folded-calls");
        var received = Field("received");
        var raised = Field("loss-detections");
        var singles = received - foldRecords;
        var accounted = singles + folded + lost;
        return $"flood ({mode}): generated {calls} calls in {elapsed:F2} s ({calls / elapsed:F0}/s) on CPU 0, agent on CPU 1\n" +
               $"  delivered alone {singles} + inside {foldRecords} folds {folded} + lost {lost} = {accounted}\n" +
               $"  generated == delivered + folded + lost: {accounted == calls} (other processes' calls in the window: {accounted - calls})\n" +
               $"  kernel submitted={submitted}, userspace received={received}; SNT-0000 detections raised: {raised}\n" +
               $"  SNT-0000 windows (ms): {LossWindows(detections)}\n" +
               $"  {line}\n";
    }

    /// <summary>The width of each SNT-0000 window on the agent's stdout, from its own window_start and window_end.</summary>
    private static string LossWindows(string detections)
    {
        var widths = File.ReadLines(detections).Where(l => l.Contains("\"window_start\"", StringComparison.Ordinal)).Select(l =>
        {
            DateTimeOffset Time(string field) => DateTimeOffset.Parse(
                System.Text.RegularExpressions.Regex.Match(l, $"\"{field}\":\\s*\"([^\"]+)\"").Groups[1].Value, CultureInfo.InvariantCulture);
            return (Time("window_end") - Time("window_start")).TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture);
        });
        var text = string.Join(", ", widths);
        File.Delete(detections); // hundreds of MB under the distinct flood
        return text;
    }
}
