using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Sentinel.Events;
using Sentinel.Bpf;

namespace Sentinel.Probes;

public sealed class CaptureOptions
{
    /// <summary>The strategies to try, in order (default: kprobe, tracepoint, raw_syscalls).</summary>
    public IReadOnlyList<AttachStrategy>? Strategies { get; set; }

    /// <summary>
    /// The longest the reader waits without a wakeup before draining the ring anyway. The probes wake it only
    /// under load, so this bounds the latency of a lone event (must stay under 100 ms; detections
    /// aim for a p99 under 50 ms end to end). An idle agent pays 100 cheap wakeups a second for it.
    /// </summary>
    public int DrainIntervalMs { get; set; } = 10;

    /// <summary>Where SNT-0000 "events lost" detections go (the pipeline's detection path); none when null.</summary>
    public IDetectionSink? LossSink { get; set; }
}

/// <summary>Userspace-side counters: what reached us and what we could not decode.</summary>
public sealed class CaptureCounters
{
    private long _received, _decodeErrors;
    public long Received => Interlocked.Read(ref _received);
    public long DecodeErrors => Interlocked.Read(ref _decodeErrors);
    internal void AddReceived() => Interlocked.Increment(ref _received);
    internal void AddDecodeError() => Interlocked.Increment(ref _decodeErrors);
}

/// <summary>
/// Live capture: attaches the probes and moves decoded events from the ring buffer into a channel on a
/// dedicated thread. A full channel blocks this thread; the kernel then folds identical calls, and what still
/// overflows becomes counted kernel-side losses, reported as SNT-0000. A second thread, the watch, flushes the
/// folds waiting on idle CPUs and checks the lost counter every drain interval, whatever the reader is doing:
/// a reader stuck behind a slow pipeline, or in a consume that a flood never lets end, must not delay either.
/// </summary>
public sealed class CaptureSource : IDisposable
{
    private readonly ChannelWriter<MovePagesEvent> _writer;
    private readonly EventPool _pool;
    private readonly ILogger _logger;
    private readonly CaptureOptions _options;
    private readonly MovePagesDecoder _decoder;
    private readonly RingBufferReader _reader;
    private readonly Thread _thread, _watch;
    private readonly ManualResetEventSlim _watchStop = new();
    private readonly LossMonitor? _losses;
    private volatile bool _stopping;

    public CaptureSource(MovePagesProbe probe, ChannelWriter<MovePagesEvent> writer, EventPool pool,
        CaptureOptions options, ILogger logger)
    {
        Probe = probe;
        _writer = writer;
        _pool = pool;
        _options = options;
        _logger = logger;
        _decoder = new MovePagesDecoder(probe.Strategy);
        _reader = new RingBufferReader(probe.EventsMapFd, OnRecord);
        _thread = new Thread(Run) { IsBackground = true, Name = "sentinel-ringbuf" };
        _watch = new Thread(Watch) { IsBackground = true, Name = "sentinel-capture-watch" };
        if (options.LossSink is { } sink) _losses = new LossMonitor(sink, probe.Strategy);
    }

    public MovePagesProbe Probe { get; }
    public CaptureCounters Counters { get; } = new();
    public long HandlerErrors => _reader.HandlerErrors;
    /// <summary>SNT-0000 detections raised (0 without a loss sink).</summary>
    public long LossDetections => _losses?.Raised ?? 0;

    /// <summary>True once <see cref="Stop"/> was called: the reader is on its way to the final drain.</summary>
    public bool IsStopping => _stopping;

    public void Start()
    {
        _thread.Start();
        _watch.Start();
    }

    private void Run()
    {
        RingBufferLoop.Run(_reader, DrainSchedule.Every(_options.DrainIntervalMs), () => _stopping,
            onWaitError: error => _logger.LogWarning("waiting on the ring buffer failed: {Error}", error));
        // The watch stops first, so this thread alone touches the folds and the loss monitor from here on.
        _watchStop.Set();
        _watch.Join();
        // Detach first, so nothing is submitted after the last drain: every submitted event and every fold is
        // received, and the counters read afterwards are final.
        Probe.Detach();
        _reader.ResumeConsuming(); // detached: what is left is finite, so drain all of it
        _reader.Consume();
        for (var attempt = 0; attempt < 100 && Probe.FlushFolds() > 0; attempt++)
            _reader.Consume();
        _reader.Consume();
        ObserveLosses();
        _losses?.Flush(UnixNowNs());
        _writer.TryComplete();
    }

    /// <summary>
    /// Every drain interval, on its own thread: flushes folds left on CPUs that went quiet (the next poll reads
    /// what it writes) and reports new losses. Loss windows are bounded by these checks, so they close on time
    /// (<see cref="LossMonitor.MaxWindow"/> plus at most one interval, while this thread gets a CPU) even when
    /// the reader is held back for seconds.
    /// </summary>
    private void Watch()
    {
        while (!_watchStop.Wait(_options.DrainIntervalMs))
        {
            try
            {
                Probe.FlushFolds();
                ObserveLosses();
            }
            catch (Exception ex)
            {
                // A failing sink must not end the checks (nor the process): the next interval tries again.
                _logger.LogError(ex, "capture watch: flushing folds or reporting losses failed");
            }
        }
    }

    private void ObserveLosses()
    {
        if (_losses is null) return;
        var before = UnixNowNs();
        _losses.Observe(Probe.Counters.Read(KernelCounter.LostRingBufferFull), before, UnixNowNs());
    }

    private static long UnixNowNs() => (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;

    private void OnRecord(ReadOnlySpan<byte> record)
    {
        var evt = _pool.Rent();
        var result = _decoder.Decode(record, evt);
        if (result != DecodeResult.Ok)
        {
            Counters.AddDecodeError();
            _pool.Return(evt);
            _logger.LogDebug("skipped a {Result} record of {Length} bytes", result, record.Length);
            return;
        }
        Counters.AddReceived();
        if (_writer.TryWrite(evt)) return;
        // Backpressure: wait for the pipeline rather than lose an event we already hold.
        while (!_writer.TryWrite(evt))
        {
            if (!_writer.WaitToWriteAsync().AsTask().GetAwaiter().GetResult())
            {
                _pool.Return(evt);
                return;
            }
        }
    }

    /// <summary>Stops polling, drains what is pending, and completes the channel.</summary>
    public void Stop()
    {
        _stopping = true;
        _reader.YieldSoon();
        if (_thread.IsAlive) _thread.Join();
        else _writer.TryComplete();
    }

    public void Dispose()
    {
        Stop();
        _watchStop.Dispose();
        _reader.Dispose();
        Probe.Dispose();
    }
}
