using System.Diagnostics;
using System.Globalization;
using System.Text;
using Sentinel.Probes;
using Sentinel.Bpf;

namespace Sentinel.Benchmarks.Capture;

/// <summary>
/// `probe-overhead [CALLS]`: the cost of a move_pages call with no probe, with an empty tracepoint program,
/// with Sentinel attached and consuming, and with bpftrace printing the same arguments — all measured in
/// this run, interleaved over several rounds, reported as medians and as ratios to the baseline. Then the
/// loss accounting: the generator pinned to one core at full rate, the agent on the other.
/// </summary>
internal static class ProbeOverhead
{
    internal const string Agent = "run --no-server --format json";

    private const string BpftraceProgram =
        "tracepoint:syscalls:sys_enter_move_pages { printf(\"%d %d %lx %lx %lx %d\\n\", args->pid, args->nr_pages, " +
        "args->pages, args->nodes, args->status, args->flags); }";

    public static int Run(string[] args)
    {
        var calls = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 200_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        BpfEnvironment.EnsureReady();
        var work = Directory.CreateTempSubdirectory("sentinel-bench").FullName;
        var generator = Compile(work);
        var emptyObject = CompileEmptyProgram(work);
        var sentinel = TestSupport.RepoPaths.Sentinel;

        var conditions = new (string Name, Func<IDisposable?> Start)[]
        {
            ("no probe (baseline)", () => null),
            ("empty tracepoint program", () => AttachEmpty(emptyObject)),
            // The agent as deployed: decode, enrich, evaluate the built-in rules; no event output.
            ("Sentinel attached and consuming", () => StartProcess($"exec {sentinel} {Agent} >/dev/null", "attached")),
            // bpftrace announces itself on stdout; the rest of its output is discarded like ours.
            ("bpftrace printing the arguments", () => StartProcess(
                $"bpftrace -e '{BpftraceProgram}' | (head -1 >&2; exec cat >/dev/null)", "Attaching", graceful: false)),
        };
        var results = conditions.ToDictionary(c => c.Name, _ => new Dictionary<string, List<double>> { ["esrch"] = [], ["query"] = [] });
        for (var round = 0; round < rounds; round++)
            foreach (var (name, start) in conditions)
            {
                using var running = start();
                foreach (var mode in new[] { "esrch", "query" })
                    results[name][mode].Add(Measure(generator, calls, mode));
            }

        var report = new StringBuilder();
        report.AppendLine($"calls per measurement: {calls}, rounds: {rounds}, medians in ns per call");
        report.AppendLine();
        report.AppendLine("| condition | ESRCH path | added | query mode | added |");
        report.AppendLine("|---|---|---|---|---|");
        var baseline = results[conditions[0].Name];
        foreach (var (name, _) in conditions)
        {
            var r = results[name];
            report.AppendLine($"| {name} | {Statistics.UpperMedian(r["esrch"]):F0} | {Statistics.UpperMedian(r["esrch"]) - Statistics.UpperMedian(baseline["esrch"]):+0;-0} " +
                              $"| {Statistics.UpperMedian(r["query"]):F0} | {Statistics.UpperMedian(r["query"]) - Statistics.UpperMedian(baseline["query"]):+0;-0} |");
        }
        double Added(string name, string mode) => Statistics.UpperMedian(results[name][mode]) - Statistics.UpperMedian(baseline[mode]);
        foreach (var mode in new[] { "esrch", "query" })
        {
            var empty = Added(conditions[1].Name, mode);
            var ours = Added(conditions[2].Name, mode);
            var bpftrace = Added(conditions[3].Name, mode);
            report.AppendLine();
            report.AppendLine($"{mode}: Sentinel adds {ours:F0} ns = {ours / empty:F2}x the empty program's {empty:F0} ns " +
                              $"(target <= 2x); {ours / bpftrace:F3} of bpftrace's {bpftrace:F0} ns (target <= 0.05)");
        }
        report.AppendLine();
        report.AppendLine("raw (ns per call, by round):");
        foreach (var (name, _) in conditions)
            report.AppendLine($"  {name}: esrch [{string.Join(", ", results[name]["esrch"].Select(v => v.ToString("F0")))}] " +
                              $"query [{string.Join(", ", results[name]["query"].Select(v => v.ToString("F0")))}]");
        Console.WriteLine(report); // before the parts that run the agent again, so a failure there loses none of it
        Console.WriteLine(LossAccounting(generator, sentinel, calls * 10));
        Console.WriteLine(LoneEventLatency.Measure());
        return 0;
    }

    /// <summary>Generator on CPU 0 at full rate, agent on CPU 1: generated must equal received plus counted lost.</summary>
    private static string LossAccounting(string generator, string sentinel, long calls)
    {
        var agent = StartProcess($"exec taskset -c 1 {sentinel} {Agent} >/dev/null", "attached");
        var sw = Stopwatch.StartNew();
        var output = RunToEnd("taskset", $"-c 0 {generator} {calls} query");
        var elapsed = sw.Elapsed.TotalSeconds;
        Thread.Sleep(500); // the drain interval, so the tail reaches userspace
        agent.Dispose();
        if (agent.Stderr.Split('\n').FirstOrDefault(l => l.Contains("counters:")) is not { } counters)
            return $"loss accounting: the agent printed no counters line; its stderr ends: {string.Join(" | ", agent.Stderr.Split('\n').TakeLast(5))}\n";
        long Field(string name) => long.Parse(counters.Split(' ').First(f => f.StartsWith(name + "=")).Split('=')[1].TrimEnd(';'));
        var submitted = Field("submitted");
        var lost = Field("lost");
        var received = Field("received");
        return $"loss accounting: generated {calls} calls in {elapsed:F2} s ({calls / elapsed:F0}/s) on CPU 0, agent on CPU 1\n" +
               $"  kernel submitted={submitted} lost={lost}; userspace received={received}\n" +
               $"  generated == received + lost: {calls == received + lost} (other processes' calls in the window: {submitted + lost - calls})\n" +
               $"  {counters}\n";
    }

    internal static double Measure(string generator, long calls, string mode)
    {
        var output = RunToEnd("taskset", $"-c 0 {generator} {calls} {mode}");
        return double.Parse(output.Split(' ')[0], CultureInfo.InvariantCulture);
    }

    internal static string Compile(string work)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Capture", "native", "move_pages_load.c");
        var binary = Path.Combine(work, "move_pages_load");
        RunToEnd("gcc", $"-O2 -o {binary} {source}");
        return binary;
    }

    internal static string CompileEmptyProgram(string work)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Capture", "native", "empty_tracepoint.bpf.c");
        var obj = Path.Combine(work, "empty_tracepoint.bpf.o");
        RunToEnd("clang-14", $"-O2 -g -target bpf -c {source} -o {obj}");
        return obj;
    }

    private static IDisposable AttachEmpty(string path)
    {
        var obj = BpfObject.Open(path);
        obj.Load();
        obj.Attach("empty_enter");
        obj.Attach("empty_exit");
        return obj;
    }

    internal static string RunToEnd(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args}: exit {p.ExitCode}: {error}");
        return output.Trim();
    }

    internal sealed class RunningProcess(Process process, StringBuilder stderr, bool graceful) : IDisposable
    {
        public string Stderr { get { lock (stderr) return stderr.ToString(); } }

        /// <summary>SIGTERM (the service signal), then as long as <paramref name="timeout"/> to exit: an agent with
        /// a backlog drains all of it before it prints its counters.</summary>
        public void Terminate(TimeSpan timeout)
        {
            if (process.HasExited) return;
            Process.Start("kill", $"-TERM {process.Id}")!.WaitForExit();
            process.WaitForExit(timeout);
        }

        public void Dispose()
        {
            if (!graceful) process.Kill(entireProcessTree: true);
            if (!process.HasExited)
            {
                Process.Start("kill", $"-INT {process.Id}")!.WaitForExit();
                if (!process.WaitForExit(15_000)) process.Kill(entireProcessTree: true);
            }
            process.WaitForExit();
            process.Dispose();
        }
    }

    /// <summary>Starts a shell command and waits for <paramref name="readyMarker"/> on its stderr.</summary>
    internal static RunningProcess StartProcess(string command, string readyMarker, bool graceful = true)
    {
        var info = new ProcessStartInfo("bash", ["-c", command]) { RedirectStandardError = true };
        var process = Process.Start(info)!;
        var stderr = new StringBuilder();
        var ready = new ManualResetEventSlim();
        void OnLine(string? line)
        {
            if (line is null) return;
            lock (stderr) stderr.AppendLine(line);
            if (line.Contains(readyMarker)) ready.Set();
        }
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginErrorReadLine();
        // Up to 300 s for rule compilation on a loaded machine; a command that exits first has failed.
        var deadline = DateTime.UtcNow.AddSeconds(300);
        while (!ready.Wait(TimeSpan.FromMilliseconds(200)))
            if (process.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"'{command}' did not report '{readyMarker}': {stderr}");
        Thread.Sleep(300);
        return new RunningProcess(process, stderr, graceful);
    }
}
