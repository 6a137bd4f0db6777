using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sentinel.Events;

namespace Sentinel.Pipeline;

/// <summary>The bounded hand-off between a source (ring buffer, file) and the pipeline.</summary>
public sealed class EventChannel
{
    public const int DefaultCapacity = 8192;

    public EventChannel(int capacity = DefaultCapacity)
    {
        // Wait, not drop: a full channel stalls the ring-buffer reader, so overflow shows up as counted kernel losses.
        Channel = System.Threading.Channels.Channel.CreateBounded<MovePagesEvent>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
    }

    public Channel<MovePagesEvent> Channel { get; }
    public EventPool Pool { get; } = new();
}

/// <summary>
/// Enrich → observe → detect → deliver, one event at a time, in arrival order. A sink that throws is logged
/// and counted; it never stops the pipeline. Capture reports its own detections (SNT-0000, events lost) through
/// <see cref="IDetectionSink"/> from its thread: deliveries are serialised, so sinks still see one at a time.
/// </summary>
public sealed class EventPipeline : IDetectionSink
{
    private readonly IEventEnricher[] _enrichers;
    private readonly IEventObserver[] _observers;
    private readonly IDetector? _detector;
    private readonly IDetectionSink[] _sinks;
    private readonly ILogger _logger;
    private readonly Lock _delivery = new();

    public EventPipeline(
        IEnumerable<IEventEnricher> enrichers,
        IDetector? detector,
        IEnumerable<IEventObserver> observers,
        IEnumerable<IDetectionSink> sinks,
        ILogger<EventPipeline> logger)
    {
        _enrichers = enrichers.ToArray();
        _detector = detector;
        _observers = observers.ToArray();
        _sinks = sinks.ToArray();
        _logger = logger;
        _folder = new DetectionFolder(Deliver);
    }

    private readonly DetectionFolder _folder;

    /// <summary>Folds open (rules with a fold key); while any is, the service ticks <see cref="Tick"/>.</summary>
    public bool HasOpenFolds => _folder.OpenFolds > 0;

    /// <summary>Closes fold windows that ended while no event arrived.</summary>
    public void Tick() => _folder.Tick();

    /// <summary>Closes every fold window and delivers its summary: call when the input ends.</summary>
    public void Flush() => _folder.CloseAll();

    public PipelineCounters Counters { get; } = new();

    public void Process(MovePagesEvent evt)
    {
        Counters.AddEvent();
        _folder.Advance(evt.TimeUnixNs);
        foreach (var enricher in _enrichers) enricher.Enrich(evt);
        foreach (var observer in _observers)
        {
            try { observer.OnEvent(evt); }
            catch (Exception ex) { SinkFailed(observer, ex); }
        }
        _detector?.Evaluate(evt, this);
    }

    /// <summary>Runs <paramref name="body"/> (which calls <see cref="Process"/>) under the detector's guard: see <see cref="IDetector.RunGuarded"/>.</summary>
    public void RunGuarded(Action body)
    {
        if (_detector is null) body();
        else _detector.RunGuarded(body);
    }

    void IDetectionSink.OnDetection(Detection detection)
    {
        Counters.AddDetection();
        if (detection.Rule.FoldKey.Length > 0 && !_folder.Admit(detection)) return;
        Deliver(detection);
    }

    private void Deliver(Detection detection)
    {
        // One at a time: the capture side (SNT-0000) and the folder's timer deliver from other threads.
        lock (_delivery)
        {
            foreach (var sink in _sinks)
            {
                try { sink.OnDetection(detection); }
                catch (Exception ex) { SinkFailed(sink, ex); }
            }
        }
    }

    private void SinkFailed(object sink, Exception ex)
    {
        Counters.AddSinkError();
        _logger.LogError(ex, "{Sink} failed; the pipeline continues", sink.GetType().Name);
    }
}

/// <summary>Runs <see cref="EventPipeline"/> over the channel until the source completes or the host stops.</summary>
/// <remarks>
/// It runs until the source completes the channel, not until the host's stop token: every event the source
/// accepted is processed, however long the backlog. Sources stop before this service does.
/// </remarks>
public sealed class PipelineService(EventChannel channel, EventPipeline pipeline) : IHostedService
{
    private Task? _completion;

    /// <summary>Completes once the channel is completed and drained.</summary>
    public Task Completion => _completion ?? Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A thread of its own, not the pool's: an abort of a stuck rule lands on it, and a thread that took an abort
        // is one the runtime can no longer stop in a loop without calls (docs/RELIABILITY.md). It only waits after that.
        var thread = new Thread(() =>
        {
            try
            {
                pipeline.RunGuarded(() => Run(channel.Channel.Reader));
                done.SetResult();
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        }) { IsBackground = true, Name = "sentinel-pipeline" };
        _completion = done.Task;
        thread.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A source that never started (start-up failed) never completes the channel.
        channel.Channel.Writer.TryComplete();
        try
        {
            await Completion.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Past the host's shutdown timeout (a flood's backlog on a starved CPU) the run goes on: the caller
            // awaits Completion itself, so accepted events are still processed instead of the host aborting.
        }
    }

    /// <summary>
    /// The whole run, in one guarded region. After a guard stopped a rule it is called again (on a new thread) and
    /// goes on where it was: the detector finished the event it interrupted.
    /// </summary>
    private void Run(ChannelReader<MovePagesEvent> reader)
    {
        if (_inFlight is { } finished)
        {
            _inFlight = null;
            channel.Pool.Return(finished);
        }
        while (WaitToRead(reader))
        {
            DrainBatch(reader);
            pipeline.Tick();
        }
        // Open folds close at the end of input, so their summaries reach the sinks (the journal stops after us).
        pipeline.Flush();
    }

    /// <summary>
    /// Blocks this thread (it has nothing else to do) until events wait or the channel completes. While folds are open,
    /// wakes at least every <see cref="FoldTick"/> so a summary never waits for an event.
    /// </summary>
    private bool WaitToRead(ChannelReader<MovePagesEvent> reader)
    {
        while (pipeline.HasOpenFolds && !reader.TryPeek(out _))
        {
            using var tick = new CancellationTokenSource(FoldTick);
            try { return Wait(reader.WaitToReadAsync(tick.Token)); }
            catch (OperationCanceledException) { pipeline.Tick(); }
        }
        return Wait(reader.WaitToReadAsync());
    }

    // Completed at once while events keep coming (no allocation); a task to block on only when idle.
    private static bool Wait(ValueTask<bool> ready) => ready.IsCompleted ? ready.Result : ready.AsTask().GetAwaiter().GetResult();

    public static readonly TimeSpan FoldTick = TimeSpan.FromMilliseconds(250);

    private MovePagesEvent? _inFlight;

    private void DrainBatch(ChannelReader<MovePagesEvent> reader)
    {
        while (reader.TryRead(out var evt))
        {
            // Not in a finally: an event a rule's abort interrupts is still the detector's until it finishes it.
            _inFlight = evt;
            pipeline.Process(evt);
            _inFlight = null;
            channel.Pool.Return(evt);
        }
    }
}
