using System.Runtime.CompilerServices;
using Sentinel.Events;

namespace Sentinel.Rules.Tests;

public sealed class HotReloadTests
{
    private static string Versioned(string version) =>
        TestRules.Rule("SNT-9001", $$"""findings.Add("{{version}}");""");

    [Fact]
    public void A_reload_during_a_replay_of_100k_events_evaluates_each_event_exactly_once()
    {
        const int events = 100_000;
        using var dir = new RuleDirectory();
        var file = dir.Write("r.csx", Versioned("v1"));
        using var engine = TestRules.Load(dir.Path);
        var messages = new string?[events];
        var sink = new IndexedSink(messages);
        Task<RuleReloadResult>? reload = null;

        for (var i = 0; i < events; i++)
        {
            if (i == 10_000)
            {
                // The edit and the recompile happen on another thread while the pipeline keeps going.
                File.WriteAllText(file, Versioned("v2"));
                reload = Task.Run(engine.Reload);
            }
            // If the compile is slower than the replay, hold the tail back so the swap lands inside it.
            if (i == events - 1000) Assert.True(reload!.Wait(TimeSpan.FromMinutes(2)));
            sink.Index = i;
            engine.Evaluate(TestRules.Event(pid: i + 1), sink);
        }

        Assert.Equal(events, sink.Count); // one detection per event: none lost, none evaluated by both sets
        Assert.All(messages, m => Assert.NotNull(m));
        var firstV2 = Array.IndexOf(messages, "v2");
        Assert.InRange(firstV2, 10_000, events - 1000);
        Assert.All(messages[..firstV2], m => Assert.Equal("v1", m));
        Assert.All(messages[firstV2..], m => Assert.Equal("v2", m));
        Assert.Equal(2, engine.Generation);
        Assert.Equal(["SNT-9001"], reload!.Result.Updated);
        // The status counts the new version's evaluations only: the old one was retired with its counters.
        Assert.Equal(events - firstV2, Assert.Single(engine.Status()).Evaluations);
    }

    [Fact]
    public void A_broken_edit_keeps_the_previous_version_running_and_reports_why()
    {
        using var dir = new RuleDirectory();
        var file = dir.Write("r.csx", Versioned("v1"));
        using var engine = TestRules.Load(dir.Path);
        var sink = new ListSink();

        File.WriteAllText(file, TestRules.Rule("SNT-9001", "System.IO.File.Delete(\"/x\");"));
        var result = engine.Reload();
        engine.Evaluate(TestRules.Event(), sink);

        Assert.False(result.Changed);
        Assert.Contains(result.Diagnostics, d => d.IsError && d.Message.Contains("System.IO.File.Delete"));
        Assert.Equal("v1", Assert.Single(sink.Detections).Message);
        var status = Assert.Single(engine.Status());
        Assert.Contains("System.IO.File.Delete", status.ReloadError);
        Assert.Contains($"{file}:", status.ReloadError);

        // Fixing the file clears the error and brings the new version in.
        File.WriteAllText(file, Versioned("v3"));
        engine.Reload();
        engine.Evaluate(TestRules.Event(), sink);
        Assert.Equal("v3", sink.Detections[^1].Message);
        Assert.Null(Assert.Single(engine.Status()).ReloadError);
    }

    [Fact]
    public void Replaced_rules_are_unloaded()
    {
        using var dir = new RuleDirectory();
        var file = dir.Write("r.csx", Versioned("v1"));
        using var engine = TestRules.Load(dir.Path);

        var old = EvaluateThenReplace(engine, file);

        Assert.True(WaitForCollection(old), "the replaced rule's AssemblyLoadContext was not collected");
        Assert.True(engine.ActiveContexts().Single().IsAlive);
    }

    // Kept out of the test's frame, where a Debug build keeps temporaries alive to the end of the method.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference EvaluateThenReplace(RuleEngine engine, string file)
    {
        engine.Evaluate(TestRules.Event(), new ListSink());
        var old = engine.ActiveContexts().Single();
        File.WriteAllText(file, Versioned("v2"));
        engine.Reload();
        engine.Evaluate(TestRules.Event(), new ListSink()); // adopts the new set, retires the old one
        return old;
    }

    [Fact]
    public void Unchanged_rules_keep_their_instance_and_state_across_reloads()
    {
        using var dir = new RuleDirectory();
        dir.Write("count.csx", TestRules.Rule("SNT-9001", "if (++_n % 3 == 0) findings.Add(_n.ToString());", "private int _n;"));
        var other = dir.Write("other.csx", TestRules.Rule("SNT-9002", ""));
        using var engine = TestRules.Load(dir.Path);
        var sink = new ListSink();

        engine.Evaluate(TestRules.Event(), sink);
        engine.Evaluate(TestRules.Event(), sink);
        File.WriteAllText(other, TestRules.Rule("SNT-9002", "/* edited */"));
        var result = engine.Reload();
        engine.Evaluate(TestRules.Event(), sink);

        Assert.Equal(["SNT-9002"], result.Updated);
        Assert.Equal("3", Assert.Single(sink.Detections).Message);
    }

    [Fact]
    public void Added_and_removed_files_are_picked_up()
    {
        using var dir = new RuleDirectory();
        var first = dir.Write("a.csx", TestRules.Rule("SNT-9001", ""));
        using var engine = TestRules.Load(dir.Path);

        dir.Write("b.csx", TestRules.Rule("SNT-9002", ""));
        File.Delete(first);
        var result = engine.Reload();
        engine.Evaluate(TestRules.Event(), new ListSink());

        Assert.Equal(["SNT-9002"], result.Added);
        Assert.Equal(["SNT-9001"], result.Removed);
        Assert.Equal(["SNT-9002"], engine.Rules.Select(r => r.Id));
    }

    [Fact]
    public void A_file_change_triggers_a_reload_when_watching()
    {
        using var dir = new RuleDirectory();
        var file = dir.Write("r.csx", Versioned("v1"));
        using var engine = TestRules.Load(dir.Path);
        using var reloaded = new SemaphoreSlim(0);
        engine.Reloaded += r => { if (r.Changed) reloaded.Release(); };
        engine.StartWatching();

        dir.Write("r.csx", Versioned("v2"));

        Assert.True(reloaded.Wait(TimeSpan.FromMinutes(1)), "no reload after the file changed");
        var sink = new ListSink();
        engine.Evaluate(TestRules.Event(), sink);
        Assert.Equal("v2", Assert.Single(sink.Detections).Message);
    }

    [Fact]
    public void Sighup_triggers_a_reload_when_watching()
    {
        using var dir = new RuleDirectory();
        var file = dir.Write("r.csx", Versioned("v1"));
        // A long debounce keeps the file watcher out of it: only the signal can reload in time.
        using var engine = TestRules.Load(dir.Path, TestRules.Options() with { ReloadDebounce = TimeSpan.FromHours(1) });
        using var reloaded = new SemaphoreSlim(0);
        engine.Reloaded += r => { if (r.Changed) reloaded.Release(); };
        engine.StartWatching();
        File.WriteAllText(file, Versioned("v2"));

        Assert.Equal(0, kill(Environment.ProcessId, SIGHUP));

        Assert.True(reloaded.Wait(TimeSpan.FromMinutes(1)), "no reload after SIGHUP");
        var sink = new ListSink();
        engine.Evaluate(TestRules.Event(), sink);
        Assert.Equal("v2", Assert.Single(sink.Detections).Message);
    }

    private const int SIGHUP = 1;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool WaitForCollection(WeakReference reference)
    {
        for (var i = 0; i < 20 && reference.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return !reference.IsAlive;
    }

    private sealed class IndexedSink(string?[] messages) : IDetectionSink
    {
        public int Index { get; set; }
        public int Count { get; private set; }

        public void OnDetection(Detection detection)
        {
            Count++;
            Assert.Null(messages[Index]); // a second detection for the same event would mean it ran twice
            messages[Index] = detection.Message;
        }
    }
}
