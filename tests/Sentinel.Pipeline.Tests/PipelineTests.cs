using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;

namespace Sentinel.Pipeline.Tests;

/// <summary>EventPipeline's order of steps and its isolation of failing parts; PipelineService's drain.</summary>
public sealed class PipelineTests
{
    private static readonly RuleInfo Rule = new() { Id = "SNT-9002", Version = "1.0.0", Name = "test", Description = "d", Events = ["move_pages"] };

    private sealed class Steps
    {
        public ConcurrentQueue<string> Log { get; } = new();
    }

    /// <summary>Sets the comm, as the process tree fills in the caller.</summary>
    private sealed class Enricher(Steps steps) : IEventEnricher
    {
        public void Enrich(MovePagesEvent evt)
        {
            steps.Log.Enqueue($"enrich {evt.Pid}");
            evt.Comm = "enriched";
        }
    }

    private sealed class Observer(Steps steps, bool throws = false) : IEventObserver
    {
        public void OnEvent(MovePagesEvent evt)
        {
            steps.Log.Enqueue($"observe {evt.Pid} {evt.Comm}");
            if (throws) throw new InvalidOperationException("observer broke");
        }
    }

    /// <summary>Fires on every event, with what it saw of the enrichment.</summary>
    private sealed class Detector(Steps steps) : IDetector
    {
        public void Evaluate(MovePagesEvent evt, IDetectionSink sink)
        {
            steps.Log.Enqueue($"detect {evt.Pid} {evt.Comm}");
            sink.OnDetection(new Detection { Rule = Rule, Time = evt.Time, Message = $"{evt.Pid} {evt.Comm}", Event = evt.Clone() });
        }
    }

    private sealed class Sink(bool throws = false) : IDetectionSink
    {
        private int _inside;
        public ConcurrentQueue<Detection> All { get; } = new();
        public int Overlaps;

        public void OnDetection(Detection detection)
        {
            if (Interlocked.Increment(ref _inside) > 1) Interlocked.Increment(ref Overlaps);
            Thread.SpinWait(200); // long enough that two unserialised deliveries would overlap
            All.Enqueue(detection);
            Interlocked.Decrement(ref _inside);
            if (throws) throw new IOException("sink broke");
        }
    }

    private static MovePagesEvent Event(int pid) => new() { Pid = pid, Tid = pid, Comm = "raw", TimeUnixNs = 1_772_359_200_000_000_000L + pid };

    [Fact]
    public void Each_event_is_enriched_then_observed_then_evaluated_and_its_detections_reach_every_sink()
    {
        var steps = new Steps();
        var (first, second) = (new Sink(), new Sink());
        var pipeline = new EventPipeline([new Enricher(steps)], new Detector(steps), [new Observer(steps)], [first, second],
            NullLogger<EventPipeline>.Instance);

        pipeline.Process(Event(1));
        pipeline.Process(Event(2));

        Assert.Equal(["enrich 1", "observe 1 enriched", "detect 1 enriched", "enrich 2", "observe 2 enriched", "detect 2 enriched"], steps.Log);
        Assert.Equal(["1 enriched", "2 enriched"], first.All.Select(d => d.Message));
        Assert.Equal(first.All.Select(d => d.Message), second.All.Select(d => d.Message));
        Assert.Equal((2L, 2L, 0L), (pipeline.Counters.Events, pipeline.Counters.Detections, pipeline.Counters.SinkErrors));
    }

    [Fact]
    public void A_throwing_observer_or_sink_is_counted_and_neither_stops_detection_nor_the_other_sinks()
    {
        var steps = new Steps();
        var (broken, good) = (new Sink(throws: true), new Sink());
        var pipeline = new EventPipeline([], new Detector(steps), [new Observer(steps, throws: true)], [broken, good],
            NullLogger<EventPipeline>.Instance);

        for (var pid = 1; pid <= 3; pid++) pipeline.Process(Event(pid));

        Assert.Equal(3, good.All.Count);
        Assert.Equal(3, broken.All.Count);
        // Per event: the observer once and the broken sink once.
        Assert.Equal(6L, pipeline.Counters.SinkErrors);
        Assert.Equal(3, steps.Log.Count(s => s.StartsWith("detect", StringComparison.Ordinal)));
    }

    [Fact]
    public void Detections_from_another_thread_are_delivered_one_at_a_time_with_the_pipelines()
    {
        var steps = new Steps();
        var sink = new Sink();
        var pipeline = new EventPipeline([], new Detector(steps), [], [sink], NullLogger<EventPipeline>.Instance);
        IDetectionSink asSink = pipeline;
        const int each = 2000;

        // The capture side reports SNT-0000 through the pipeline from its own thread while events flow.
        var capture = Task.Run(() =>
        {
            for (var i = 0; i < each; i++)
                asSink.OnDetection(new Detection { Rule = Rule, Time = DateTimeOffset.UnixEpoch, Message = "lost", Event = Event(0) });
        });
        for (var pid = 1; pid <= each; pid++) pipeline.Process(Event(pid));
        capture.Wait(TimeSpan.FromMinutes(1));

        Assert.True(capture.IsCompletedSuccessfully);
        Assert.Equal(2 * each, sink.All.Count);
        Assert.Equal(0, sink.Overlaps);
        // The pipeline's own detections keep the events' order.
        Assert.Equal(Enumerable.Range(1, each).Select(p => $"{p} raw"), sink.All.Select(d => d.Message).Where(m => m != "lost"));
    }

    [Fact]
    public async Task The_service_processes_every_accepted_event_in_order_and_returns_each_to_the_pool()
    {
        var steps = new Steps();
        var sink = new Sink();
        var channel = new EventChannel(capacity: 16);
        var pipeline = new EventPipeline([], new Detector(steps), [], [sink], NullLogger<EventPipeline>.Instance);
        var service = new PipelineService(channel, pipeline);
        await service.StartAsync(CancellationToken.None);
        var rented = new List<MovePagesEvent>();

        // More events than the channel holds: the writer waits for the drain rather than dropping.
        for (var pid = 1; pid <= 200; pid++)
        {
            var evt = channel.Pool.Rent();
            (evt.Pid, evt.Tid, evt.Comm, evt.TimeUnixNs) = (pid, pid, "raw", 1_772_359_200_000_000_000L + pid);
            if (rented.Count < 4 && !rented.Contains(evt)) rented.Add(evt);
            await channel.Channel.Writer.WriteAsync(evt);
        }
        channel.Channel.Writer.Complete();
        await service.Completion.WaitAsync(TimeSpan.FromMinutes(1));
        await service.StopAsync(CancellationToken.None);

        Assert.Equal(Enumerable.Range(1, 200).Select(p => $"{p} raw"), sink.All.Select(d => d.Message));
        // Returned events are reset for reuse (the detections kept their own copies).
        Assert.All(rented, e => Assert.Equal(0, e.Pid));
        Assert.Equal(200L, pipeline.Counters.Events);
    }

    [Fact]
    public async Task Stopping_a_service_whose_source_never_started_completes()
    {
        var channel = new EventChannel();
        var service = new PipelineService(channel, new EventPipeline([], null, [], [], NullLogger<EventPipeline>.Instance));
        await service.StartAsync(CancellationToken.None);

        await service.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.True(service.Completion.IsCompletedSuccessfully);
    }
}
