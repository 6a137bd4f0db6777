using System.Diagnostics;
using Sentinel.Events;
using Sentinel.ProcessTree;
using Sentinel.TestSupport;
using Xunit.Abstractions;

namespace Sentinel.ProcessTree.Tests;

/// <summary>The real proctree BPF program on the live kernel. Live tests share the kernel: run them one at a time.</summary>
[Collection(nameof(LiveProcessTreeTests))]
[CollectionDefinition(nameof(LiveProcessTreeTests), DisableParallelization = true)]
public sealed class LiveProcessTreeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    /// <summary>With /proc look-ups off, everything the tree knows after the seed came from the probes.</summary>
    private static (ProcessTree Tree, ProcessTreeService Service) Start(int capacity = 32_768, bool procFallback = false,
        TimeSpan? feederInterval = null)
    {
        var tree = new ProcessTree(new ProcessTreeOptions
        {
            Capacity = capacity,
            MaxProcLookupsPerSecond = procFallback ? 2_000 : 0,
            FeederInterval = feederInterval ?? new ProcessTreeOptions().FeederInterval,
        });
        var service = new ProcessTreeService(tree);
        service.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        Assert.True(service.Attached);
        return (tree, service);
    }

    [LiveFact]
    public void Probes_report_fork_exec_and_exit_of_real_processes()
    {
        var (tree, service) = Start();
        using var _ = service;
        var before = tree.Stats;

        using var child = Process.Start(new ProcessStartInfo("sleep", ["30", "2"]))!;
        var info = WaitFor(service, () => tree.Find(child.Id) is { Comm: "sleep" } p ? p : null);

        Assert.EndsWith("/sleep", info.ExePath);
        Assert.Equal(["sleep", "30", "2"], info.Args);
        Assert.Equal(Environment.ProcessId, info.ParentPid);
        Assert.True(BootClock.SameStart(tree.Find(Environment.ProcessId)!.StartTimeNs, info.ParentStartTimeNs));
        Assert.Equal(tree.HostMountNamespace, info.MountNamespace);
        Assert.Equal((uint)0, info.Uid);
        // The probe's ns start time falls in the tick /proc reports.
        Assert.Equal(ReadProcStart(child.Id), BootClock.NormalizeStart(info.StartTimeNs));
        Assert.True(tree.Stats.Forks > before.Forks && tree.Stats.Execs > before.Execs);
        Assert.Equal(0, tree.Stats.ProcLookups);

        child.Kill();
        child.WaitForExit();
        WaitFor(service, () => tree.Find(child.Id, info.StartTimeNs) is { Exited: true } p ? p : null);
        Assert.Equal(0, service.HandlerErrors);
        Assert.Equal(0, service.RecordsMalformed);
    }

    [LiveFact]
    public void An_event_just_after_an_exec_is_enriched_from_the_probes_without_waiting_for_the_feeder()
    {
        // The feeder reads once a second here, so only the enricher's own drain can bring the exec in time.
        var (tree, service) = Start(feederInterval: TimeSpan.FromSeconds(1));
        using var _ = service;
        using var child = Process.Start(new ProcessStartInfo("sleep", ["30", "6"]))!;
        ProcSeedTests.WaitForExec(child.Id, "sleep");

        var evt = EventFrom(child.Id);
        new ProcessTreeEnricher(tree, service).Enrich(evt);

        Assert.True(evt.Enrichment.Enriched);
        Assert.Equal("sleep", evt.Enrichment.Caller!.Comm);
        Assert.Equal(["sleep", "30", "6"], evt.Enrichment.Caller.Args);
        Assert.Equal(0, tree.Stats.ProcLookups); // from the probes, not /proc
        child.Kill();
    }

    [LiveFact]
    public void A_process_started_before_the_agent_is_enriched()
    {
        using var early = Process.Start(new ProcessStartInfo("sleep", ["30", "3"]))!;
        ProcSeedTests.WaitForExec(early.Id, "sleep");

        var (tree, service) = Start();
        using var _ = service;
        var evt = EventFrom(early.Id);
        new ProcessTreeEnricher(tree, service).Enrich(evt);

        Assert.True(evt.Enrichment.Enriched);
        Assert.Equal("sleep", evt.Enrichment.Caller!.Comm);
        Assert.Equal(ReadProcStart(early.Id), BootClock.NormalizeStart(evt.Enrichment.Caller.StartTimeNs));
        Assert.Equal(Environment.ProcessId, evt.Enrichment.Ancestry[0].Pid);
        Assert.True(evt.Enrichment.CallerInHostNamespaces);
        Assert.Equal(0, tree.Stats.ProcLookups);
        early.Kill();
    }

    [LiveFact]
    public void Pid_reuse_with_real_processes_never_attributes_the_old_identity()
    {
        var (tree, service) = Start();
        using var _ = service;

        for (var attempt = 0; attempt < 30; attempt++)
        {
            using var first = Process.Start(new ProcessStartInfo("sleep", ["30", "4"]))!;
            var old = WaitFor(service, () => tree.Find(first.Id) is { Comm: "sleep" } p ? p : null);
            var whileOldAlive = BootClock.NowNs;
            first.Kill();
            first.WaitForExit();
            WaitFor(service, () => tree.Find(first.Id, old.StartTimeNs) is { Exited: true } p ? p : null);

            // Ask the kernel to hand the same pid to the next process.
            File.WriteAllText("/proc/sys/kernel/ns_last_pid", (first.Id - 1).ToString());
            using var second = Process.Start(new ProcessStartInfo("cat") { RedirectStandardInput = true })!;
            if (second.Id != first.Id)
            {
                second.Kill();
                continue; // someone else on the machine took it first
            }
            try
            {
                var reused = WaitFor(service, () => tree.Find(second.Id) is { Comm: "cat" } p ? p : null);
                Assert.NotEqual(old.EntityId, reused.EntityId);

                var now = EventFrom(second.Id);
                new ProcessTreeEnricher(tree, service).Enrich(now);
                Assert.Equal(reused.EntityId, now.Enrichment.Caller!.EntityId);
                Assert.Equal("cat", now.Enrichment.Caller.Comm);

                // An event stamped while the first process held the pid still names the first one.
                var late = EventFrom(first.Id);
                late.TimeUnixNs = (long)whileOldAlive + BootClock.UnixOffsetNs;
                new ProcessTreeEnricher(tree, service).Enrich(late);
                Assert.Equal(old.EntityId, late.Enrichment.Caller!.EntityId);
                return;
            }
            finally
            {
                second.Kill();
            }
        }
        Assert.Fail("could not get the kernel to reuse a pid in 30 attempts");
    }

    [LiveFact]
    public void A_fork_storm_keeps_the_tree_bounded_and_later_events_correct()
    {
        const int forks = 20_000, capacity = 2_048;
        var storm = ForkStormHelper.Build();
        var (tree, service) = Start(capacity);
        using var _ = service;
        var before = tree.Stats;

        using var helper = Process.Start(new ProcessStartInfo(storm, forks.ToString()) { RedirectStandardOutput = true })!;
        var maxCount = 0;
        while (!helper.WaitForExit(5)) maxCount = Math.Max(maxCount, tree.Count);
        Assert.Equal(0, helper.ExitCode);
        Assert.Equal(forks.ToString(), helper.StandardOutput.ReadToEnd().Trim());
        service.Drain();
        maxCount = Math.Max(maxCount, tree.Count);

        var stats = tree.Stats;
        output.WriteLine($"fork storm: max tree size {maxCount}/{capacity}, {stats}, lost in kernel {service.LostInKernel}");
        Assert.True(maxCount <= capacity, $"the tree grew to {maxCount} with capacity {capacity}");
        // Every fork reached the tree or was counted as lost in the kernel: none vanished silently.
        Assert.True(stats.Forks - before.Forks + (long)service.LostInKernel >= forks,
            $"forks seen {stats.Forks - before.Forks}, lost {service.LostInKernel}");
        Assert.True(stats.Evicted > 0);
        Assert.Equal(0, service.HandlerErrors);

        // After the storm: a new process is still enriched correctly, and long-lived ones survived eviction.
        using var after = Process.Start(new ProcessStartInfo("sleep", ["30", "5"]))!;
        WaitFor(service, () => tree.Find(after.Id) is { Comm: "sleep" } p ? p : null);
        var evt = EventFrom(after.Id);
        new ProcessTreeEnricher(tree, service).Enrich(evt);
        Assert.Equal("sleep", evt.Enrichment.Caller!.Comm);
        Assert.Equal(ReadProcStart(after.Id), BootClock.NormalizeStart(evt.Enrichment.Caller.StartTimeNs));
        Assert.Equal(Environment.ProcessId, evt.Enrichment.Ancestry[0].Pid);
        Assert.Equal(0, tree.Stats.ProcLookups);
        after.Kill();
    }

    internal static MovePagesEvent EventFrom(int pid) => new()
    {
        Pid = pid, Tid = pid,
        TimeUnixNs = (long)BootClock.NowNs + BootClock.UnixOffsetNs,
    };

    internal static ulong ReadProcStart(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        Assert.True(ProcFs.TryParseStat(stat, out _, out _, out var start));
        return start;
    }

    internal static T WaitFor<T>(ProcessTreeService service, Func<T?> probe) where T : class =>
        Wait.For(() =>
        {
            service.Drain();
            return probe();
        }, value => value is not null, "the process tree to report it", (int)Patience.TotalSeconds)!;
}

/// <summary>Compiles the fork-storm helper: N sequential fork + _exit (every 500th child execs /bin/true).</summary>
internal static class ForkStormHelper
{
    private const string Source = """
        #include <stdio.h>
        #include <stdlib.h>
        #include <sys/wait.h>
        #include <unistd.h>

        int main(int argc, char **argv)
        {
            int n = argc > 1 ? atoi(argv[1]) : 20000, done = 0;
            for (int i = 0; i < n; i++) {
                pid_t pid = fork();
                if (pid == 0) {
                    if (i % 500 == 0) execl("/bin/true", "true", (char *)NULL);
                    _exit(0);
                }
                if (pid < 0) { perror("fork"); return 1; }
                if (waitpid(pid, NULL, 0) == pid) done++;
            }
            printf("%d\n", done);
            return 0;
        }
        """;

    private static readonly Lazy<string> Built = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-forkstorm").FullName;
        File.WriteAllText(Path.Combine(dir, "forkstorm.c"), Source);
        var exe = Path.Combine(dir, "forkstorm");
        ChildProcess.RunChecked("gcc", "-O2", "-o", exe, Path.Combine(dir, "forkstorm.c"));
        return exe;
    });

    public static string Build() => Built.Value;
}
