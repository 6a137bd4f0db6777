using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.TestSupport;

namespace Sentinel.Pipeline.Tests;

public sealed class FoldingTests
{
    private static readonly DateTimeOffset T0 = DateTimeOffset.Parse("2026-03-01T10:00:00Z");

    private static RuleInfo Rule(string id = "SNT-9001", string key = "pid", int windowSeconds = 10) => new()
    {
        Id = id, Version = "1.0.0", Name = "test", Description = "d", Events = ["move_pages"],
        FoldKey = key, FoldWindow = TimeSpan.FromSeconds(windowSeconds),
    };

    /// <summary>Fires each listed rule once per event.</summary>
    private sealed class Detector(params RuleInfo[] rules) : IDetector
    {
        public void Evaluate(MovePagesEvent evt, IDetectionSink sink)
        {
            foreach (var rule in rules)
                sink.OnDetection(new Detection
                {
                    Rule = rule, Time = evt.Time, Message = $"{evt.Comm} {evt.Pid}", Event = evt.Clone(),
                    Fields = new Dictionary<string, string> { ["target"] = evt.TargetPid.ToString() },
                });
        }
    }

    private sealed class Collector : IDetectionSink
    {
        public ConcurrentQueue<Detection> All { get; } = new();
        public void OnDetection(Detection detection) => All.Enqueue(detection);
    }

    private static MovePagesEvent Event(double seconds, int pid = 100, int target = 0) => new()
    {
        TimeUnixNs = (T0 + TimeSpan.FromSeconds(seconds)).ToUnixTimeMilliseconds() * 1_000_000, Pid = pid, Tid = pid, Comm = "numactl",
        TargetPid = target,
    };

    private static (EventPipeline Pipeline, Collector Sink) Pipeline(params RuleInfo[] rules)
    {
        var sink = new Collector();
        return (new EventPipeline([], new Detector(rules), [], [sink], NullLogger<EventPipeline>.Instance), sink);
    }

    [Fact]
    public void The_first_goes_out_at_once_and_the_repeats_as_one_summary_when_the_window_closes()
    {
        var (pipeline, sink) = Pipeline(Rule());
        pipeline.Process(Event(0));
        Assert.Single(sink.All); // at once, unfolded
        foreach (var t in new[] { 1.0, 2, 3, 9.5 }) pipeline.Process(Event(t));
        Assert.Single(sink.All); // held
        pipeline.Process(Event(10, pid: 200)); // another key; its time closes the first window

        var all = sink.All.ToList();
        Assert.Equal(3, all.Count);
        Assert.False(all[0].IsFoldSummary);
        Assert.Equal(1u, all[0].FoldCount);
        var summary = all[1];
        Assert.True(summary.IsFoldSummary);
        Assert.Equal(4u, summary.FoldCount);
        Assert.Equal(T0.AddSeconds(1), summary.FirstTime);
        Assert.Equal(T0.AddSeconds(9.5), summary.LastTime);
        Assert.Equal(T0.AddSeconds(9.5), summary.Time);
        Assert.Equal(100, summary.Event.Pid);
        Assert.Equal(200, all[2].Event.Pid); // the summary came before the detection whose event closed the window
        Assert.Equal(6, pipeline.Counters.Detections); // every firing is counted
    }

    [Fact]
    public void After_the_window_the_next_repeat_opens_a_new_one_and_goes_out_at_once()
    {
        var (pipeline, sink) = Pipeline(Rule());
        pipeline.Process(Event(0));
        pipeline.Process(Event(11));
        Assert.Equal(2, sink.All.Count);
        Assert.All(sink.All, d => Assert.False(d.IsFoldSummary)); // no repeats in the first window: no summary
    }

    [Fact]
    public void Keys_and_rules_fold_separately()
    {
        var (pipeline, sink) = Pipeline(Rule("SNT-9001", "pid"), Rule("SNT-9002", "pid,field:target"));
        pipeline.Process(Event(0, pid: 1, target: 5));
        pipeline.Process(Event(1, pid: 2, target: 5));
        pipeline.Process(Event(2, pid: 1, target: 6));
        // SNT-9001: pid 1, pid 2 out, pid 1 again held. SNT-9002: (1,5), (2,5), (1,6) all out.
        Assert.Equal(["SNT-9001:1", "SNT-9002:1", "SNT-9001:2", "SNT-9002:2", "SNT-9002:1"],
            sink.All.Select(d => $"{d.Rule.Id}:{d.Event.Pid}"));
        pipeline.Flush();
        Assert.Equal((1u, "SNT-9001"), (sink.All.Last().FoldCount, sink.All.Last().Rule.Id));
    }

    [Fact]
    public void Rules_without_a_fold_key_are_never_folded()
    {
        var (pipeline, sink) = Pipeline(Rule(key: ""));
        for (var i = 0; i < 50; i++) pipeline.Process(Event(i * 0.01));
        Assert.Equal(50, sink.All.Count);
        Assert.All(sink.All, d => Assert.Equal(1u, d.FoldCount));
    }

    [Fact]
    public void Fold_counts_add_up_to_the_firings_so_nothing_is_hidden()
    {
        var (pipeline, sink) = Pipeline(Rule(windowSeconds: 3), Rule("SNT-9002", "comm", windowSeconds: 7));
        var random = new Random(7);
        var time = 0.0;
        for (var i = 0; i < 2000; i++)
        {
            time += random.NextDouble() * 0.2;
            pipeline.Process(Event(time, pid: random.Next(1, 20)));
        }
        pipeline.Flush(); // end of input: what is held comes out
        Assert.Equal(4000, sink.All.Sum(d => (long)d.FoldCount));
        Assert.True(sink.All.Count < 2000, $"{sink.All.Count} detections: folding should have cut 4000 firings down");
        // Summaries never report a span longer than their window.
        Assert.All(sink.All.Where(d => d.IsFoldSummary), d => Assert.True(d.LastTime - d.FirstTime < TimeSpan.FromSeconds(7)));
    }

    [Fact]
    public void Past_the_open_fold_limit_a_new_key_goes_out_unfolded()
    {
        var (pipeline, sink) = Pipeline(Rule());
        for (var pid = 1; pid <= DetectionFolder.MaxOpenFolds + 5; pid++) pipeline.Process(Event(0, pid));
        pipeline.Process(Event(0.5, DetectionFolder.MaxOpenFolds + 3)); // over the limit: not held
        Assert.Equal(DetectionFolder.MaxOpenFolds + 6, sink.All.Count);
        pipeline.Flush();
        Assert.Equal(DetectionFolder.MaxOpenFolds + 6, sink.All.Count);
    }

    [Fact]
    public async Task An_idle_pipeline_still_closes_the_window_without_another_event()
    {
        var (channel, sink, service) = await StartServiceAsync(windowSeconds: 1);
        await WriteAsync(channel, 0, 0.1, 0.2);
        // No more events: the wall clock closes the window (1 s) at the next tick.
        await Wait.UntilAsync(() => sink.All.Count == 2, "the idle window to close into a second detection", 30);
        Assert.Equal(2u, sink.All.Last().FoldCount);
        await service.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Stopping_the_pipeline_delivers_what_is_held()
    {
        var (channel, sink, service) = await StartServiceAsync(windowSeconds: 3600);
        await WriteAsync(channel, 0, 0, 0, 0, 0);
        channel.Channel.Writer.Complete(); // the source stops, as capture does at shutdown
        await service.StopAsync(CancellationToken.None);
        Assert.Equal([1u, 4u], sink.All.Select(d => d.FoldCount));
        Assert.True(sink.All.Last().IsFoldSummary);
    }

    [Theory]
    [InlineData("pid,bogus", "unknown fold key part 'bogus'")]
    [InlineData("field:", "unknown fold key part 'field:'")]
    public void A_bad_fold_key_is_refused_when_the_metadata_is_built(string key, string message)
    {
        var ex = Assert.Throws<ArgumentException>(() => Rule(key: key));
        Assert.Contains(message, ex.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3601)]
    public void A_fold_window_out_of_range_is_refused(int seconds) =>
        Assert.Throws<ArgumentException>(() => Rule(windowSeconds: seconds));

    private static async Task<(EventChannel, Collector, PipelineService)> StartServiceAsync(int windowSeconds)
    {
        var channel = new EventChannel();
        var sink = new Collector();
        var pipeline = new EventPipeline([], new Detector(Rule(windowSeconds: windowSeconds)), [], [sink], NullLogger<EventPipeline>.Instance);
        var service = new PipelineService(channel, pipeline);
        await service.StartAsync(CancellationToken.None);
        return (channel, sink, service);
    }

    /// <summary>Events from pid 100 at now + each offset (seconds), as a source would write them.</summary>
    private static async Task WriteAsync(EventChannel channel, params double[] offsets)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var dt in offsets)
        {
            var evt = channel.Pool.Rent();
            evt.TimeUnixNs = (now + TimeSpan.FromSeconds(dt)).ToUnixTimeMilliseconds() * 1_000_000;
            evt.Pid = 100;
            await channel.Channel.Writer.WriteAsync(evt);
        }
    }
}
