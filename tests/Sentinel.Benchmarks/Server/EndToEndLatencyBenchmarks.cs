using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Pipeline;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.Server;
using static Sentinel.TestSupport.MovePagesCalls;

namespace Sentinel.Benchmarks.Server;

/// <summary>
/// The whole path, live (root + BPF): a real move_pages(MPOL_MF_MOVE_ALL) call → tracepoint → ring buffer → decode →
/// pipeline → a detector → journal commit (fsync) → gRPC → a follower holding the detection. One op = one call.
/// "Flood": another thread makes MOVE_ALL calls that each fire a detection too, ~5,000 a second (50 every 10 ms).
/// An unbounded flood only measures queue depth: past the journal's throughput, latency grows without limit.
/// p50/p99 are printed at cleanup; BenchmarkDotNet's columns stop at P95. Baseline: light load.
/// </summary>
[InProcess, WarmupCount(1), IterationCount(4), InvocationCount(40)]
public unsafe class EndToEndLatencyBenchmarks
{
    private Microsoft.AspNetCore.Builder.WebApplication _app = null!;
    private CaptureSource _capture = null!;
    private CountingFollower _follower = null!;
    private readonly ManualResetEventSlim _arrived = new();
    private readonly List<double> _samples = [];
    private CancellationTokenSource _stopFlood = new();
    private Thread? _flood;
    private int _myTid;
    private string _dir = "";
    private ulong* _page;
    private int* _status;

    [Params(false, true)]
    public bool Flood { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("sentinel-e2e-").FullName;
        _app = SentinelServer.Build(new ServerOptions { Listen = "127.0.0.1:0", JournalPath = Path.Combine(_dir, "j.db") }, b =>
        {
            b.Services.AddSingleton<IDetector, OwnMoveAllDetector>();
            b.Services.AddSentinelPipeline();
        });
        _app.StartAsync().GetAwaiter().GetResult();
        var channel = _app.Services.GetRequiredService<EventChannel>();
        _capture = new CaptureSource(MovePagesProbe.Attach(NullLogger.Instance), channel.Channel.Writer, channel.Pool,
            new CaptureOptions(), NullLogger.Instance);
        _capture.Start();
        var address = SentinelServer.BoundAddresses(_app.Services)[0];
        _follower = new CountingFollower(new Sentinel.V1.DetectionService.DetectionServiceClient(Grpc.Net.Client.GrpcChannel.ForAddress(address)), 0,
            d => { if (d.Event.Context.Tid == Volatile.Read(ref _myTid)) _arrived.Set(); });
        _page = (ulong*)MapTouched(1);
        _status = (int*)System.Runtime.InteropServices.NativeMemory.Alloc(sizeof(int));
        if (!Flood) return;
        _stopFlood = new CancellationTokenSource();
        _flood = new Thread(() =>
        {
            var page = (ulong*)MapTouched(1);
            var status = stackalloc int[1];
            while (!_stopFlood.IsCancellationRequested)
            {
                for (var i = 0; i < 50; i++) MovePages(0, 1, page, null, status, 4);
                Thread.Sleep(10);
            }
        }) { IsBackground = true };
        _flood.Start();
    }

    [Benchmark]
    public void CallToClient()
    {
        Volatile.Write(ref _myTid, GetTid());
        _arrived.Reset();
        var started = Stopwatch.GetTimestamp();
        MovePages(0, 1, _page, null, _status, 4);
        if (!_arrived.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("the detection never reached the client");
        _samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stopFlood.Cancel();
        _flood?.Join();
        _capture.Dispose();
        _follower.Dispose();
        _app.StopAsync().GetAwaiter().GetResult();
        var sorted = _samples.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        Console.WriteLine($"// e2e latency Flood={Flood} samples={sorted.Length} p50={P(0.50):0.000}ms p99={P(0.99):0.000}ms " +
                          $"max={sorted[^1]:0.000}ms detections={_follower.Last} kernel-lost={_capture.Probe.Counters.Snapshot().Lost}");
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>Fires on this process's MOVE_ALL calls only, so the benchmark sees its own detections.</summary>
    private sealed class OwnMoveAllDetector : IDetector
    {
        private static readonly RuleInfo Rule = new() { Id = "BENCH-0001", Name = "benchmark MOVE_ALL", Version = "1", Severity = Severity.High };
        private readonly int _pid = Environment.ProcessId;

        public void Evaluate(MovePagesEvent evt, IDetectionSink sink)
        {
            if (evt.Pid != _pid || evt.Flags != 4) return;
            sink.OnDetection(new Detection { Rule = Rule, Time = evt.Time, Message = "move_all", Event = evt.Clone() });
        }
    }
}
