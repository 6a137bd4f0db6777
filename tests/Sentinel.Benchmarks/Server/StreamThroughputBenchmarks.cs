using BenchmarkDotNet.Attributes;
using Sentinel.Server;

namespace Sentinel.Benchmarks.Server;

/// <summary>
/// Detections per second from the pipeline's hand-off to every follower having received them, for 1, 4 and 8 clients,
/// against the baseline of committing the same batch with nobody listening. Each op is one batch of
/// <see cref="Batch"/> detections; detections/s = Batch / time per op.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 8)]
public class StreamThroughputBenchmarks
{
    public const int Batch = 20_000;
    private DeliveryHarness _server = null!;
    private List<CountingFollower> _followers = [];

    [Params(1, 4, 8)]
    public int Clients { get; set; }

    [Params(JournalSync.Full)]
    public JournalSync Sync { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _server = new DeliveryHarness(Sync);
        _server.EmitAndCommitAsync(1000).GetAwaiter().GetResult();
    }

    [IterationSetup(Target = nameof(Stream))]
    public void StartFollowers()
    {
        var after = _server.Journal.Range.Last;
        _followers = Enumerable.Range(0, Clients).Select(_ => new CountingFollower(_server.NewClient(), after)).ToList();
    }

    [IterationCleanup(Target = nameof(Stream))]
    public void StopFollowers()
    {
        foreach (var f in _followers) f.Dispose();
    }

    /// <summary>Baseline: the journal alone (batched commits, fsync per batch), no stream.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public void CommitOnly() => _server.EmitAndCommitAsync(Batch).GetAwaiter().GetResult();

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Stream()
    {
        var target = _server.Journal.Range.Last + Batch;
        _server.EmitAndCommitAsync(Batch).GetAwaiter().GetResult();
        foreach (var f in _followers) f.WaitFor(target);
    }

    [GlobalCleanup]
    public void Cleanup() => _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
}

/// <summary>
/// Journal commit throughput by fsync policy: FULL (fsync every batch; survives power loss) and NORMAL (survives a
/// process crash). Baseline: serializing the same detections to protobuf, the work no journal can avoid.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 8)]
public class JournalCommitBenchmarks
{
    public const int Batch = 20_000;
    private DeliveryHarness _server = null!;
    private readonly List<Sentinel.Events.Detection> _detections = Enumerable.Range(0, Batch).Select(i => DeliveryHarness.Sample(i)).ToList();

    [Params(JournalSync.Full, JournalSync.Normal)]
    public JournalSync Sync { get; set; }

    [GlobalSetup]
    public void Setup() => _server = new DeliveryHarness(Sync);

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public long SerializeOnly()
    {
        long bytes = 0;
        foreach (var d in _detections) bytes += Google.Protobuf.MessageExtensions.ToByteArray(Sentinel.Contracts.DetectionConverter.ToProto(d)).Length;
        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public void Commit() => _server.EmitAndCommitAsync(Batch).GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup() => _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
