using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Pipeline;

namespace Sentinel.Rules.Tests;

/// <summary>
/// The agent's pipeline evaluates under the rule guard: a rule whose very first evaluation makes one framework call
/// that would run for minutes is aborted at its CPU limit, the rules after it still see the event it interrupted, and
/// every later event is processed and returned to the pool.
/// </summary>
public sealed class GuardedPipelineTests
{
    private const int Events = 50;

    [Theory]
    [InlineData(1)]
    [InlineData(2)] // the second abort runs on a new thread: the runtime lands none on a thread that took one
    public async Task A_first_call_that_never_returns_is_aborted_and_the_interrupted_event_is_finished(int stuck)
    {
        using var rules = new RuleDirectory();
        // Slots run in file order: the hostile rules first, so each abort interrupts an event with a rule still to run.
        TestRules.WriteStuckThenEvery(rules, stuck);
        using var engine = TestRules.Load(rules.Path);

        var channel = new EventChannel();
        var sink = new CollectingSink();
        var pipeline = new EventPipeline([], engine, [], [sink], NullLogger<EventPipeline>.Instance);
        var service = new PipelineService(channel, pipeline);
        await service.StartAsync(CancellationToken.None);
        for (var i = 0; i < Events; i++)
        {
            var evt = channel.Pool.Rent();
            TestRules.Event(pid: 1000 + i).CopyTo(evt);
            await channel.Channel.Writer.WriteAsync(evt);
        }
        channel.Channel.Writer.Complete();
        await service.Completion.WaitAsync(TimeSpan.FromMinutes(3));

        for (var n = 0; n < stuck; n++)
        {
            var hostile = engine.Status().Single(s => s.Id == $"SNT-99{n}1");
            Assert.True(hostile.Quarantined);
            Assert.Contains("aborted inside a framework call", hostile.QuarantineReason);
            Assert.Equal(1, hostile.Evaluations);
        }
        // Every event, the interrupted first one included, reached the rule after the hostile one, in order.
        Assert.Equal(Enumerable.Range(1000, Events).Select(p => "seen " + p), sink.Messages("SNT-9902"));
        Assert.Empty(sink.Messages("SNT-9901"));
        Assert.Equal(Events, channel.Pool.Retained);
        Assert.Equal(0, sink.OnPoolThreads); // the pipeline evaluates on threads of its own
    }

    [Fact]
    public void After_an_abort_guarded_work_from_that_thread_runs_on_new_threads_the_watchdog_lets_go()
    {
        using var rules = new RuleDirectory();
        TestRules.WriteStuckThenEvery(rules);
        using var engine = TestRules.Load(rules.Path);
        var sink = new ListSink();
        var bodies = new List<int>();
        const int Runs = 200;
        int caller = 0, watchedBefore = 0, watchedAfter = 0;
        var thread = new Thread(() =>
        {
            caller = Environment.CurrentManagedThreadId;
            var first = true;
            engine.RunGuarded(() =>
            {
                // The body runs again after the abort and must go on from where it was: past the event.
                if (!first) return;
                first = false;
                engine.Evaluate(TestRules.Event(pid: 1), sink); // the abort lands on this thread
            });
            watchedBefore = Runtime.RuleWatchdog.Count;
            for (var i = 0; i < Runs; i++)
            {
                engine.RunGuarded(() =>
                {
                    bodies.Add(Environment.CurrentManagedThreadId);
                    engine.Evaluate(TestRules.Event(pid: 2 + i), sink);
                });
            }
            watchedAfter = Runtime.RuleWatchdog.Count;
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromMinutes(3)), "the guarded runs did not finish");

        Assert.Contains("aborted inside a framework call", engine.Status().Single(s => s.Id == "SNT-9901").QuarantineReason);
        Assert.Equal(Runs + 1, sink.Detections.Count(d => d.Rule.Id == "SNT-9902"));
        Assert.DoesNotContain(caller, bodies); // never again on the thread the abort landed on
        // Each run's thread is forgotten as it ends (other tests' threads come and go meanwhile: a margin, not 200).
        Assert.InRange(watchedAfter - watchedBefore, -Runs, 20);
    }

    private sealed class CollectingSink : IDetectionSink
    {
        private readonly List<Detection> _detections = [];

        /// <summary>Detections delivered on a pool thread: an abort could have landed on it and left it in the pool.</summary>
        public int OnPoolThreads;

        public void OnDetection(Detection detection)
        {
            if (Thread.CurrentThread.IsThreadPoolThread) Interlocked.Increment(ref OnPoolThreads);
            lock (_detections) _detections.Add(detection);
        }

        public IReadOnlyList<string> Messages(string ruleId)
        {
            lock (_detections) return _detections.Where(d => d.Rule.Id == ruleId).Select(d => d.Message).ToList();
        }
    }
}
