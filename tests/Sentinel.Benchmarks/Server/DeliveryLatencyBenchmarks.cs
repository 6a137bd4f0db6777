using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Sentinel.Server;

namespace Sentinel.Benchmarks.Server;

/// <summary>
/// Latency from the pipeline handing a detection to the journal until a follower holds it (commit with fsync,
/// publish, gRPC over loopback), alone ("light") and while a second client follows a flood of ~20k detections/s.
/// One op = one detection round trip. p50/p99 of each op are printed at cleanup ("latency p50=… p99=…"), since
/// BenchmarkDotNet's own columns stop at P95. Baseline: the light load.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10, invocationCount: 200)]
public class DeliveryLatencyBenchmarks
{
    private DeliveryHarness _server = null!;
    private CountingFollower _measured = null!, _floodReader = null!;
    private CancellationTokenSource _stopFlood = new();
    private Task _flood = Task.CompletedTask;
    private readonly List<double> _samples = [];
    private readonly Lock _emitLock = new();
    private long _probeSerial;
    private readonly ManualResetEventSlim _probeArrived = new();

    [Params(false, true)]
    public bool Flood { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _server = new DeliveryHarness(JournalSync.Full);
        _measured = new CountingFollower(_server.NewClient(), 0, d =>
        {
            // Probes carry negative serials; the flood's are positive.
            if (long.Parse(d.Fields["serial"]) == Volatile.Read(ref _probeSerial)) _probeArrived.Set();
        });
        _floodReader = new CountingFollower(_server.NewClient(), 0);
        if (!Flood) return;
        _stopFlood = new CancellationTokenSource();
        _flood = Task.Run(async () =>
        {
            // ~20k/s in bursts of 200 every 10 ms, through the same single "pipeline thread" lock as the probe op.
            long serial = 0;
            while (!_stopFlood.IsCancellationRequested)
            {
                lock (_emitLock)
                    for (var i = 0; i < 200; i++) _server.Journal.OnDetection(DeliveryHarness.Sample(serial++));
                await Task.Delay(10);
            }
        });
    }

    [Benchmark]
    public void RoundTrip()
    {
        _probeArrived.Reset();
        var serial = Interlocked.Decrement(ref _probeSerial);
        var started = Stopwatch.GetTimestamp();
        lock (_emitLock) _server.Journal.OnDetection(DeliveryHarness.Sample(serial));
        if (!_probeArrived.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("the probe detection never arrived");
        _samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stopFlood.Cancel();
        _flood.Wait();
        _measured.Dispose();
        _floodReader.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        var sorted = _samples.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        Console.WriteLine($"// latency Flood={Flood} samples={sorted.Length} p50={P(0.50):0.000}ms p99={P(0.99):0.000}ms max={sorted[^1]:0.000}ms");
    }
}
