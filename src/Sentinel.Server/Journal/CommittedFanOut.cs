using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Sentinel.Contracts;
using Sentinel.Events;

namespace Sentinel.Server.Journal;

/// <summary>
/// Hands committed detections to the after-commit sinks (printers, syslog) on its own task, through its own bounded
/// queue: a sink that blocks (stdout into a full pipe) holds up only itself, never the journal's writer and its fsync.
/// Past <see cref="Capacity"/> waiting, the oldest are dropped and counted; they stay in the journal and on the streams.
/// </summary>
internal sealed class CommittedFanOut
{
    public const int Capacity = 65_536;

    private readonly ILogger _logger;
    private readonly Channel<CommittedDetection> _queue;
    private readonly Lock _delivery = new();
    private IDetectionSink[] _sinks = [];
    private Task _run = Task.CompletedTask;
    private long _dropped;
    private int _overflowing;

    public CommittedFanOut(ILogger logger)
    {
        _logger = logger;
        _queue = Channel.CreateBounded<CommittedDetection>(
            new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = false },
            _ => OnDropped());
    }

    /// <summary>Detections the sinks never saw because they fell <see cref="Capacity"/> behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public bool HasSinks => _sinks.Length > 0;

    /// <summary>A sink takes the converted detection: the journal keeps its conversion for it.</summary>
    public bool TakesProto { get; private set; }

    /// <summary>Register before <see cref="Start"/>.</summary>
    public void Add(IDetectionSink sink)
    {
        _sinks = [.. _sinks, sink];
        TakesProto |= sink is IProtoDetectionSink;
    }

    public void Start() => _run = Task.Run(RunAsync);

    /// <summary>Queues a committed detection; never blocks. After <see cref="StopAsync"/> began, delivers it here.</summary>
    public void Offer(CommittedDetection committed)
    {
        if (_sinks.Length == 0 || _queue.Writer.TryWrite(committed)) return;
        Deliver(committed); // a late commit while the host stops: printed, not lost
    }

    /// <summary>Delivers what is queued, then stops.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await _run.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var detection)) Deliver(detection);
            Volatile.Write(ref _overflowing, 0);
        }
    }

    private void Deliver(CommittedDetection committed)
    {
        lock (_delivery)
            foreach (var sink in _sinks)
            {
                try
                {
                    if (committed.Proto is { } proto && sink is IProtoDetectionSink protoSink) protoSink.OnDetection(proto);
                    else sink.OnDetection(committed.Detection);
                }
                catch (Exception ex) { _logger.LogError(ex, "{Sink} failed after commit; the journal continues", sink.GetType().Name); }
            }
    }

    private void OnDropped()
    {
        Interlocked.Increment(ref _dropped);
        if (Interlocked.Exchange(ref _overflowing, 1) == 0)
            _logger.LogWarning("an output (stdout, syslog) is {Capacity} detections behind: the oldest are skipped there; " +
                               "the journal and the streams still have every one", Capacity);
    }
}
