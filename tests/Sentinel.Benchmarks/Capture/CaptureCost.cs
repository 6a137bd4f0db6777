using System.Globalization;
using System.Text;
using Sentinel.Probes;
using Sentinel.Bpf;

namespace Sentinel.Benchmarks.Capture;

/// <summary>
/// `capture-cost [CALLS] [ROUNDS] [ONLY]`: the kernel side of capture alone, program set by program set, in the same run
/// and in rotation: the generator's CPU time per call (ESRCH, query mode, and getppid: a syscall that is not
/// move_pages, which pays for any program that runs on every syscall), and each program's own run time from
/// kernel.bpf_stats_enabled (taken in a separate pass, since the accounting adds two clock reads per run). A
/// thread drains the ring so the programs run as they do under an agent that keeps up.
/// </summary>
internal static class CaptureCost
{
    private sealed record Condition(string Name, string? Object, string[] Programs);

    private static readonly string[] Modes = ["esrch", "query", "getppid"];

    public static int Run(string[] args)
    {
        var calls = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        BpfEnvironment.EnsureReady();
        var work = Directory.CreateTempSubdirectory("sentinel-bench").FullName;
        var generator = ProbeOverhead.Compile(work);
        var empty = ProbeOverhead.CompileEmptyProgram(work);
        var sentinel = BpfObjectFiles.Path(MovePagesProbe.ObjectName);
        Condition[] conditions =
        [
            new("no probe (baseline)", null, []),
            new("empty tracepoint pair", empty, ["empty_enter", "empty_exit"]),
            new("empty tp_btf pair (every syscall)", empty, ["empty_btf_enter", "empty_btf_exit"]),
            new("Sentinel: tracepoint strategy", sentinel, ["tracepoint_enter", "tracepoint_exit", "compat_enter", "compat_exit"]),
            new("Sentinel: tp_btf only (variant)", sentinel, ["btf_enter", "btf_exit"]),
        ];
        // SENTINEL_BEFORE_OBJECT: an older move_pages.bpf.o (built from an earlier commit), for before/after figures.
        if (Environment.GetEnvironmentVariable("SENTINEL_BEFORE_OBJECT") is { Length: > 0 } beforeObject)
            conditions = [.. conditions, new("Sentinel before: tracepoint strategy", beforeObject, ["tracepoint_enter", "tracepoint_exit", "compat_enter", "compat_exit"])];
        // ONLY keeps the baseline and the program sets whose name contains it (while iterating on one).
        if (args.Length > 2) conditions = [.. conditions.Where((c, i) => i == 0 || c.Name.Contains(args[2], StringComparison.Ordinal))];

        var perCall = new Dictionary<(string, string), List<double>>();
        var perRun = new Dictionary<(string, string, string), List<double>>();
        for (var round = 0; round < rounds; round++)
            foreach (var c in conditions)
            {
                using var attached = Attach(c);
                foreach (var mode in Modes)
                    Add(perCall, (c.Name, mode), ProbeOverhead.Measure(generator, calls, mode));
                if (attached is null) continue;
                File.WriteAllText("/proc/sys/kernel/bpf_stats_enabled", "1");
                try
                {
                    foreach (var mode in Modes)
                    {
                        var before = c.Programs.Select(p => RunStats(attached.Object.ProgramFd(p))).ToArray();
                        ProbeOverhead.Measure(generator, calls, mode);
                        for (var i = 0; i < c.Programs.Length; i++)
                        {
                            var (ns, runs) = RunStats(attached.Object.ProgramFd(c.Programs[i]));
                            // Per move_pages call for the per-syscall tracepoints; per run (every syscall) for tp_btf.
                            if (runs > before[i].Runs)
                                Add(perRun, (c.Name, c.Programs[i], mode), (double)(ns - before[i].Ns) / (runs - before[i].Runs));
                        }
                    }
                }
                finally
                {
                    File.WriteAllText("/proc/sys/kernel/bpf_stats_enabled", "0");
                }
            }

        var report = new StringBuilder();
        report.AppendLine($"capture-cost: {calls} calls per measurement, {rounds} rounds, medians; generator on CPU 0, drain on any CPU; " +
                          $"load average {File.ReadAllText("/proc/loadavg").Trim()}");
        report.AppendLine();
        report.AppendLine("| program set | ESRCH (CPU ns/call) | added | query | added | getppid | added |");
        report.AppendLine("|---|---|---|---|---|---|---|");
        double Median(string name, string mode) => Statistics.UpperMedian(perCall[(name, mode)]);
        var baseline = conditions[0].Name;
        foreach (var c in conditions)
        {
            report.Append($"| {c.Name} ");
            foreach (var mode in Modes)
                report.Append($"| {Median(c.Name, mode):F0} | {Median(c.Name, mode) - Median(baseline, mode):+0;-0} ");
            report.AppendLine("|");
        }
        report.AppendLine();
        foreach (var mode in Modes[..2])
        {
            if (conditions.Length < 5 || !conditions[1].Name.StartsWith("empty", StringComparison.Ordinal)) break;
            var emptyAdded = Median(conditions[1].Name, mode) - Median(baseline, mode);
            foreach (var c in conditions[3..])
            {
                var added = Median(c.Name, mode) - Median(baseline, mode);
                report.AppendLine($"{mode}: {c.Name} adds {added:F0} ns = {added / emptyAdded:F2}x the empty tracepoint pair's {emptyAdded:F0} ns");
            }
        }
        report.AppendLine();
        report.AppendLine("bpf_stats, ns per run (median over rounds; the accounting itself adds its two clock reads):");
        foreach (var ((name, program, mode), values) in perRun.OrderBy(kv => kv.Key))
            report.AppendLine($"  {name} / {program} / {mode}: {Statistics.UpperMedian(values):F0}  [{string.Join(", ", values.Select(v => v.ToString("F0")))}]");
        report.AppendLine();
        report.AppendLine("raw CPU ns per call, by round:");
        foreach (var ((name, mode), values) in perCall)
            report.AppendLine($"  {name} / {mode}: [{string.Join(", ", values.Select(v => v.ToString("F0")))}]");
        Console.WriteLine(report);
        return 0;
    }

    private sealed class Attached(BpfObject obj, RingBufferReader? reader, Thread? drain) : IDisposable
    {
        private volatile bool _stop;
        public BpfObject Object => obj;

        public void Start()
        {
            drain?.Start();
        }

        public void Drain()
        {
            RingBufferLoop.Run(reader!, DrainSchedule.Every(10), () => _stop);
        }

        public void Dispose()
        {
            _stop = true;
            drain?.Join();
            reader?.Dispose();
            obj.Dispose();
        }
    }

    private static Attached? Attach(Condition c)
    {
        if (c.Object is null) return null;
        var obj = BpfObject.Open(c.Object);
        obj.SelectPrograms(c.Programs);
        obj.Load();
        foreach (var program in c.Programs) obj.Attach(program);
        if (!obj.HasMap("events")) return new Attached(obj, null, null);
        var reader = new RingBufferReader(obj.MapFd("events"), _ => { });
        Attached? attached = null;
        var drain = new Thread(() => attached!.Drain()) { IsBackground = true };
        attached = new Attached(obj, reader, drain);
        attached.Start();
        return attached;
    }

    /// <summary>run_time_ns and run_cnt from the program's fdinfo (counted while kernel.bpf_stats_enabled is 1).</summary>
    private static (long Ns, long Runs) RunStats(int fd)
    {
        long ns = 0, runs = 0;
        foreach (var line in File.ReadLines($"/proc/self/fdinfo/{fd}"))
        {
            if (line.StartsWith("run_time_ns:", StringComparison.Ordinal)) ns = long.Parse(line[12..].Trim(), CultureInfo.InvariantCulture);
            if (line.StartsWith("run_cnt:", StringComparison.Ordinal)) runs = long.Parse(line[8..].Trim(), CultureInfo.InvariantCulture);
        }
        return (ns, runs);
    }

    private static void Add<TKey>(Dictionary<TKey, List<double>> into, TKey key, double value) where TKey : notnull
    {
        if (!into.TryGetValue(key, out var list)) into[key] = list = [];
        list.Add(value);
    }
}
