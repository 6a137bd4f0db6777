using System.Diagnostics;
using Sentinel.Bpf;
using Sentinel.ProcessTree;

namespace Sentinel.Benchmarks.ProcessTree;

/// <summary>
/// Process-tree measurements that are not BenchmarkDotNet timings:
/// <c>proctree-memory [N]</c>: retained memory of a tree of N (10k) live processes;
/// <c>proctree-forkstorm [N]</c> (root): N short-lived processes against the live probes: forks/s, loss, agent CPU.
/// </summary>
internal static class ProcessTreeCommands
{
    public static int Memory(string[] args)
    {
        var n = args.Length > 0 ? int.Parse(args[0]) : 10_000;
        // Baseline: the same processes as raw kernel records, which is what a tree-less agent would hold.
        var recordBytes = (long)n * System.Runtime.InteropServices.Marshal.SizeOf<ProcTreeRecord>();
        var before = Retained();
        var tree = ProcessTreeFixtures.BuildLiveTree(n);
        var after = Retained();
        GC.KeepAlive(tree);
        var bytes = after - before;
        Console.WriteLine($"processes={tree.Count} retained_bytes={bytes} bytes_per_process={bytes / (double)tree.Count:F0} " +
                          $"raw_records_bytes={recordBytes} ratio_to_raw={bytes / (double)recordBytes:F2} " +
                          $"share_of_tracee_100MB={bytes / 100e6:P2}");
        return 0;
    }

    private static long Retained()
    {
        for (var i = 0; i < 3; i++) GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    public static int ForkStorm(string[] args)
    {
        var n = args.Length > 0 ? int.Parse(args[0]) : 50_000;
        var helper = BuildForkHelper();

        // Baseline: the same storm with no agent attached.
        var bare = TimeStorm(helper, n);
        Console.WriteLine($"processes={n} bare_forks_per_s={n / bare.TotalSeconds:F0}");

        // The feeder as it was (reading every 5 ms) against the default, in the same run.
        var ok = true;
        foreach (var interval in new[] { TimeSpan.FromMilliseconds(5), new ProcessTreeOptions().FeederInterval })
            ok &= MeasureStorm(helper, n, interval);
        return ok ? 0 : 1;
    }

    private static bool MeasureStorm(string helper, int n, TimeSpan feederInterval)
    {
        var tree = new Sentinel.ProcessTree.ProcessTree(new ProcessTreeOptions { Capacity = 8_192, FeederInterval = feederInterval });
        using var service = new ProcessTreeService(tree);
        service.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        // Warm-up: a long-running agent has tiered its hot paths; without this the storm pays for the JIT
        // (the tiering thread's tier-1 compiles of the feeder), a one-off cost reported apart.
        var settle = tree.Options.ExitGracePeriod + TimeSpan.FromSeconds(1.5);
        var warmupCpu = CpuNow();
        TimeStorm(helper, Math.Min(n, 5_000));
        Thread.Sleep(settle);
        warmupCpu = CpuNow() - warmupCpu;

        // Baseline: the same agent attached and idle (its polling), as a rate.
        var idleWindow = TimeSpan.FromSeconds(5);
        var idleCpu = CpuNow();
        Thread.Sleep(idleWindow);
        idleCpu = CpuNow() - idleCpu;

        // The storm's cost includes what it leaves behind: the exited processes pruned after their grace period.
        var before = tree.Stats;
        var cpuBefore = CpuNow();
        var feederBefore = FeederCpu();
        var clock = Stopwatch.StartNew();
        var observed = TimeStorm(helper, n);
        service.Drain();
        var stormCpu = CpuNow() - cpuBefore;
        var stats = tree.Stats;
        Thread.Sleep(settle);
        var cpu = CpuNow() - cpuBefore;
        var feeder = FeederCpu() - feederBefore;
        var idle = idleCpu * (clock.Elapsed / idleWindow);
        var added = cpu - idle;
        var forksSeen = stats.Forks - before.Forks;

        // Enrichment with the live feeder attached: each event first drains the (now idle) proctree ring.
        var enricher = new ProcessTreeEnricher(tree, service);
        var evt = new Sentinel.Events.MovePagesEvent { Pid = Environment.ProcessId, TimeUnixNs = (long)BootClock.NowNs + BootClock.UnixOffsetNs };
        for (var i = 0; i < 10_000; i++) enricher.Enrich(evt);
        const int rounds = 200_000;
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < rounds; i++) enricher.Enrich(evt);
        var liveNs = sw.Elapsed.TotalNanoseconds / rounds;
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;

        // Same loop, same run, on a synthetic 10k tree with no feeder: what the drain check and real tree add.
        var synthetic = new ProcessTreeEnricher(ProcessTreeFixtures.BuildLiveTree(10_000));
        var synthEvt = new Sentinel.Events.MovePagesEvent { Pid = 5000, Uid = 1000, Euid = 1000, Gid = 1000,
            TimeUnixNs = (long)BootClock.NowNs + BootClock.UnixOffsetNs };
        for (var i = 0; i < 10_000; i++) synthetic.Enrich(synthEvt);
        sw.Restart();
        for (var i = 0; i < rounds; i++) synthetic.Enrich(synthEvt);
        var syntheticNs = sw.Elapsed.TotalNanoseconds / rounds;
        Console.WriteLine(
            $"feeder_interval_ms={feederInterval.TotalMilliseconds} with_agent_forks_per_s={n / observed.TotalSeconds:F0} " +
            $"forks_seen={forksSeen} lost_in_kernel={service.LostInKernel} " +
            $"storm_cpu_s={stormCpu.TotalSeconds:F3} with_pruning_cpu_s={cpu.TotalSeconds:F3} idle_cpu_share={idleCpu / idleWindow:P2} " +
            $"added_cpu_s={added.TotalSeconds:F3} added_cpu_share_of_one_core={added / observed:P1} " +
            $"feeder_thread_cpu_s={feeder.TotalSeconds:F3} warmup_cpu_s={warmupCpu.TotalSeconds:F3} " +
            $"added_cpu_per_process_us={added.TotalMicroseconds / n:F1} tree_max={tree.Options.Capacity} tree_now={stats.Count} " +
            $"evicted={stats.Evicted - before.Evicted} live_enrich_ns={liveNs:F0} synthetic_enrich_ns={syntheticNs:F0} live_enrich_bytes_per_event={allocated / (double)rounds:F2}");
        return forksSeen + (long)service.LostInKernel >= n;
    }

    private static TimeSpan CpuNow() => TimeSpan.FromTicks(CpuClock.ProcessNs() / 100);

    /// <summary>The feeder thread's CPU: the scheduler's run time in ns (/proc/self/task/TID/schedstat).</summary>
    private static TimeSpan FeederCpu()
    {
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            if (!File.ReadAllText(Path.Combine(task, "comm")).StartsWith("sentinel-proctr")) continue;
            var runNs = long.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0]);
            return TimeSpan.FromTicks(runNs / 100);
        }
        return TimeSpan.Zero;
    }

    private static TimeSpan TimeStorm(string helper, int n)
    {
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(new ProcessStartInfo(helper, n.ToString()) { RedirectStandardOutput = true })!;
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException("fork helper failed");
        return sw.Elapsed;
    }

    private static string BuildForkHelper()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-bench-fork").FullName;
        var source = Path.Combine(dir, "forks.c");
        File.WriteAllText(source, """
            #include <stdio.h>
            #include <stdlib.h>
            #include <sys/wait.h>
            #include <unistd.h>
            int main(int argc, char **argv)
            {
                int n = atoi(argv[1]);
                for (int i = 0; i < n; i++) {
                    pid_t pid = fork();
                    if (pid == 0) _exit(0);
                    if (pid < 0) { perror("fork"); return 1; }
                    waitpid(pid, NULL, 0);
                }
                printf("%d\n", n);
                return 0;
            }
            """);
        var exe = Path.Combine(dir, "forks");
        using var gcc = Process.Start("gcc", ["-O2", "-o", exe, source])!;
        gcc.WaitForExit();
        return gcc.ExitCode == 0 ? exe : throw new InvalidOperationException("gcc failed");
    }
}
