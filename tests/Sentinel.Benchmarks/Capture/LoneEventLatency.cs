using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Probes;
using static Sentinel.TestSupport.MovePagesCalls;

namespace Sentinel.Benchmarks.Capture;

/// <summary>
/// How long a lone event (nothing else in the ring, so the probe skips the wakeup) takes to reach the
/// pipeline: measured from the return of the call to the channel read, one call every 150 ms.
/// </summary>
internal static unsafe class LoneEventLatency
{
    public static string Measure(int samples = 40)
    {
        var channel = Channel.CreateUnbounded<MovePagesEvent>();
        using var source = new CaptureSource(MovePagesProbe.Attach(NullLogger.Instance), channel.Writer, new EventPool(),
            new CaptureOptions(), NullLogger.Instance);
        source.Start();
        var page = stackalloc ulong[1] { 0x5000 };
        var status = stackalloc int[1];
        var tid = GetTid();
        var latencies = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            Thread.Sleep(150);
            MovePages(0, 1, page, null, status, 0);
            var returned = Stopwatch.GetTimestamp();
            while (true)
            {
                var evt = channel.Reader.ReadAsync().AsTask().GetAwaiter().GetResult();
                if (evt.Tid == tid && evt.PagesAddress == (ulong)page) break;
            }
            latencies.Add(Stopwatch.GetElapsedTime(returned).TotalMilliseconds);
        }
        latencies.Sort();
        return $"lone-event latency over {samples} isolated calls: median {latencies[samples / 2]:F1} ms, " +
               $"p95 {latencies[(int)(samples * 0.95)]:F1} ms, max {latencies[^1]:F1} ms (bound: 100 ms; drain interval 10 ms)\n";
    }
}
