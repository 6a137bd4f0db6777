using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Cli.Agent;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Formats;
using Sentinel.Pipeline;
using Sentinel.Rules;
using Sentinel.Rules.Runtime;
using Sentinel.Server;
using Sentinel.Server.Journal;
using Sentinel.Server.Streaming;

namespace Sentinel.Cli.Tests;

/// <summary>
/// How often the agent's outputs convert an event or a detection to the wire contract: the real pipeline on pooled
/// events, real rules (Roslyn), the StreamEvents broadcaster, the --events-out writer, the SQLite journal and the
/// `--format json` printer after it. Each event is converted once whoever consumes it, each detection once, and
/// what comes out is what the converters give one consumer at a time.
/// </summary>
public sealed class ConversionCountTests
{
    private const int Events = 400;

    // Both fire on MOVE_ALL, so those events have two detections that share one snapshot of the event.
    private static string Rule(string id, string className) => $$"""
        public sealed class {{className}} : Rule
        {
            public override RuleInfo Info { get; } = new()
            {
                Id = "{{id}}", Version = "1.0.0", Name = "move all {{id}}", Description = "MOVE_ALL seen ({{id}}).",
                Severity = Severity.Low, MitreTactics = ["TA0004"], MitreTechniques = ["T1068"], Events = ["move_pages"],
            };

            public override void Match(MovePagesEvent e, Findings findings)
            {
                if (e.HasFlag(MoveFlags.MoveAll)) findings.Add($"{e.Comm} {e.Tid} asked for MOVE_ALL");
            }
        }
        """;

    /// <summary>The i-th call: odd ones ask for MOVE_ALL (two detections each), even ones for MOVE (none).</summary>
    private static void Fill(MovePagesEvent e, int i)
    {
        e.TimeUnixNs = 1_772_359_200_000_000_000 + i * 1_000_000L;
        e.FoldFirstUnixNs = e.FoldLastUnixNs = e.TimeUnixNs;
        e.Pid = 4000; e.Tid = i; e.Comm = "prober"; e.Uid = 1000; e.Euid = 1000;
        e.TargetPid = 1; e.Count = 1; e.PagesAddress = 0x1000; e.NodesAddress = 0x2000; e.StatusAddress = 0x3000;
        e.Flags = i % 2 == 1 ? 4 : 2; e.ReturnValue = -1;
        e.CopiedCount = 1;
        e.Copies = CopyFlags.PagesAtEntry | CopyFlags.PagesAtExit | CopyFlags.StatusAtExit;
        e.PagesAtEntryBuffer[0] = e.PagesAtExitBuffer[0] = 0x7f00_0000_0000UL + (ulong)i * 4096;
        e.StatusBuffer[0] = -14;
    }

    private static MovePagesEvent Fresh(int i)
    {
        var e = new MovePagesEvent();
        Fill(e, i);
        return e;
    }

    private sealed class Committed : IDetectionSink
    {
        public readonly ConcurrentQueue<Detection> Detections = new();
        public void OnDetection(Detection detection) => Detections.Enqueue(detection);
    }

    private sealed class Agent : IAsyncDisposable
    {
        private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("sentinel-conversions-");
        private readonly RuleEngine _rules;
        private readonly EventChannel _channel = new(capacity: 1); // one event in flight: the pool reuses events at once
        private readonly HashSet<MovePagesEvent> _rented = new(ReferenceEqualityComparer.Instance);
        private readonly List<IEventObserver> _observers = [];

        public Agent()
        {
            Directory.CreateDirectory(Path.Combine(_dir.FullName, "rules"));
            File.WriteAllText(Path.Combine(_dir.FullName, "rules", "a.csx"), Rule("SNT-9001", "MoveAllA"));
            File.WriteAllText(Path.Combine(_dir.FullName, "rules", "b.csx"), Rule("SNT-9002", "MoveAllB"));
            _rules = RuleEngine.Load(Path.Combine(_dir.FullName, "rules"), RuleEngineOptions.Default with
            {
                UseCache = false,
                Output = OutputLimits.Default with { DetectionsPerSecond = 1e9, Burst = int.MaxValue },
            }, NullLogger.Instance);
            Assert.True(_rules.Rules.Count == 2, string.Join("; ", _rules.Diagnostics));
            Journal = new DetectionJournal(new ServerOptions { JournalPath = Path.Combine(_dir.FullName, "j.db"), HostId = "web-01" });
            Broadcaster = new EventBroadcaster(Registry);
            _observers.Add(Broadcaster);
        }

        public StreamClientRegistry Registry { get; } = new();
        public EventBroadcaster Broadcaster { get; }
        public DetectionJournal Journal { get; }
        public string EventsPath => Path.Combine(_dir.FullName, "events.jsonl");
        public int DistinctEvents => _rented.Count;

        public JsonLinesEventWriter AddEventsOut()
        {
            var writer = new JsonLinesEventWriter(EventsPath);
            _observers.Add(writer);
            return writer;
        }

        /// <summary>Runs <see cref="Events"/> pooled events through the pipeline as the agent does, then drains the journal.</summary>
        public async Task RunAsync()
        {
            var pipeline = new EventPipeline([], _rules, _observers, [Journal], NullLogger<EventPipeline>.Instance);
            var service = new PipelineService(_channel, pipeline);
            await Journal.StartAsync(CancellationToken.None);
            await service.StartAsync(CancellationToken.None);
            for (var i = 1; i <= Events; i++)
            {
                var evt = _channel.Pool.Rent();
                _rented.Add(evt);
                Fill(evt, i);
                await _channel.Channel.Writer.WriteAsync(evt);
            }
            _channel.Channel.Writer.Complete();
            await service.Completion;
            await Journal.StopAsync(CancellationToken.None); // the printers have everything committed
            foreach (var disposable in _observers.OfType<IDisposable>()) disposable.Dispose();
        }

        public async ValueTask DisposeAsync()
        {
            await Journal.DisposeAsync();
            _rules.Dispose();
            _dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Each_event_is_converted_once_for_the_stream_the_event_file_and_the_journal_and_each_detection_once_for_json()
    {
        await using var agent = new Agent();
        var subscription = agent.Broadcaster.Subscribe(agent.Registry.Add(V1.StreamKind.Events, "test", "test"), Events);
        agent.AddEventsOut();
        var printed = new StringWriter();
        agent.Journal.AddCommittedSink(new JsonConsoleDetectionSink(printed)); // run --format json
        var committed = new Committed();
        agent.Journal.AddCommittedSink(committed);

        var counts = ConversionCounter.Track();
        await agent.RunAsync();
        // Before: the broadcaster, the event file and each detection converted the event, and the printer both again.
        Assert.Equal(Events, counts.Events);
        Assert.Equal(Events, counts.Detections); // two per odd event
        Assert.Equal(0, counts.Written); // the printer takes the conversion, so the journal serializes that one
        Assert.True(agent.DistinctEvents < Events / 10, $"{agent.DistinctEvents} distinct events: the pool was not reused");

        // What each consumer got is what converting that call on its own gives: no conversion outlived its pooled event.
        var expected = Enumerable.Range(1, Events).Select(i => EventJson.Format(Fresh(i))).ToList();
        Assert.Equal(expected, File.ReadAllLines(agent.EventsPath));
        var streamed = new List<string>();
        while (subscription.Reader.TryRead(out var e)) streamed.Add(EventJson.Format(e));
        Assert.Equal(expected, streamed);

        // The printer prints byte for byte what the JSON format makes of the committed detection, which the journal serves.
        var stored = new List<V1.Detection>();
        agent.Journal.ReadAfter(0, 2 * Events, stored);
        Assert.Equal(Events, stored.Count);
        var lines = printed.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(committed.Detections.Select(DetectionFormats.Get("json").Format), lines);
        Assert.Equal(stored.Select(EventJson.Format), lines);
        Assert.Equal(expected.Where((_, i) => i % 2 == 0).SelectMany(e => new[] { e, e }),
            stored.Select(d => EventJson.Format(d.Event)));
    }

    [Fact]
    public async Task Without_event_consumers_nothing_is_converted_the_journal_writes_each_detection_straight_to_bytes()
    {
        await using var agent = new Agent(); // a broadcaster with no subscriber, no event file, no JSON printer
        var committed = new Committed();
        agent.Journal.AddCommittedSink(committed);

        var counts = ConversionCounter.Track();
        await agent.RunAsync();
        Assert.Equal(0, counts.Events); // before the wire writer: the MOVE_ALL calls, once for both their detections
        Assert.Equal(0, counts.Detections);
        Assert.Equal(Events, counts.Written); // two per odd event, each writing its event's fields
        Assert.Equal(Events, committed.Detections.Count);

        // What the journal stored and serves is what converting each committed detection gives.
        var stored = new List<V1.Detection>();
        agent.Journal.ReadAfter(0, 2 * Events, stored);
        Assert.Equal(committed.Detections.Select(DetectionConverter.ToProto), stored);
    }
}
