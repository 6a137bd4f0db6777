using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sentinel.Events;

namespace Sentinel.Engine;

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

public sealed class PipelineCounters
{
    private long _events, _detections, _sinkErrors;
    public long Events => Interlocked.Read(ref _events);
    public long Detections => Interlocked.Read(ref _detections);
    public long SinkErrors => Interlocked.Read(ref _sinkErrors);
    internal void AddEvent() => Interlocked.Increment(ref _events);
    internal void AddDetection() => Interlocked.Increment(ref _detections);
    internal void AddSinkError() => Interlocked.Increment(ref _sinkErrors);
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
    }

    public PipelineCounters Counters { get; } = new();

    public void Process(MovePagesEvent evt)
    {
        Counters.AddEvent();
        foreach (var enricher in _enrichers) enricher.Enrich(evt);
        foreach (var observer in _observers)
        {
            try { observer.OnEvent(evt); }
            catch (Exception ex) { SinkFailed(observer, ex); }
        }
        _detector?.Evaluate(evt, this);
    }

    void IDetectionSink.OnDetection(Detection detection)
    {
        Counters.AddDetection();
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
    private Task? _run;

    /// <summary>Completes once the channel is completed and drained.</summary>
    public Task Completion => _run ?? Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _run = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
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

    private async Task RunAsync()
    {
        var reader = channel.Channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
            Drain(reader);
    }

    private void Drain(ChannelReader<MovePagesEvent> reader)
    {
        while (reader.TryRead(out var evt))
        {
            try { pipeline.Process(evt); }
            finally { channel.Pool.Return(evt); }
        }
    }
}
