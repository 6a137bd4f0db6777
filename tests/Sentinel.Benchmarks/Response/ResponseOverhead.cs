using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.Response;
using Sentinel.TestSupport;

namespace Sentinel.Benchmarks.Response;

/// <summary>
/// `response-overhead [CALLS] [ROUNDS]`: the added cost per move_pages call of an installed kernel policy that does
/// not match, against capture alone, measured two ways in the same run: wall clock per call (capture alone vs
/// capture + response, in rotation, medians), and the kernel's own run time of the response program
/// (kernel.bpf_stats_enabled).
/// </summary>
internal static unsafe class ResponseOverhead
{
    public static int Run(string[] args)
    {
        var calls = args.Length > 0 ? int.Parse(args[0]) : 300_000;
        var rounds = args.Length > 1 ? int.Parse(args[1]) : 5;
        BpfEnvironment.EnsureReady();
        using var capture = MovePagesProbe.Attach(NullLogger.Instance, [AttachStrategy.Tracepoint]);
        using var reader = new RingBufferReader(capture.EventsMapFd, _ => { });
        var stop = false;
        var drain = new Thread(() => { while (!Volatile.Read(ref stop)) reader.Poll(50); }) { IsBackground = true };
        drain.Start();
        var page = (ulong*)MovePagesCalls.MapTouched(1);
        var status = stackalloc int[1];
        var pages = stackalloc ulong[1] { (ulong)page };
        var nonMatching = new InstalledPolicy("SNT-0002",
            new KernelPolicy { Flags = MoveFlags.MoveAll, Lacks = Capability.SysNice, Comm = "no-such-comm" }, ResponseAction.Kill);

        double PerCall()
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < calls; i++) MovePagesCalls.MovePages(0, 1, pages, null, status, 0);
            return watch.Elapsed.TotalNanoseconds / calls;
        }

        PerCall(); // warm up
        var alone = new List<double>();
        var withPolicy = new List<double>();
        File.WriteAllText("/proc/sys/kernel/bpf_stats_enabled", "1");
        try
        {
            for (var r = 0; r < rounds; r++)
            {
                alone.Add(PerCall());
                using var responder = KernelResponder.Attach(new ResponseOptions { Mode = ResponseMode.Enforce }, NullLogger.Instance);
                responder.Install([nonMatching]);
                withPolicy.Add(PerCall());
            }
            using var measured = KernelResponder.Attach(new ResponseOptions { Mode = ResponseMode.Enforce }, NullLogger.Instance);
            measured.Install([nonMatching]);
            PerCall();
            var (enterNs, enterRuns) = RunStats("response_enter");
            var (captureNs, captureRuns) = RunStats("tracepoint_enter");
            Console.WriteLine($"capture alone          ns/call median {Median(alone):0}  rounds [{string.Join(", ", alone.Select(v => v.ToString("0")))}]");
            Console.WriteLine($"capture + policy       ns/call median {Median(withPolicy):0}  rounds [{string.Join(", ", withPolicy.Select(v => v.ToString("0")))}]");
            Console.WriteLine($"added (wall clock)     {Median(withPolicy) - Median(alone):0} ns/call");
            Console.WriteLine($"response_enter (kernel) {enterNs / Math.Max(1.0, enterRuns):0.0} ns/run over {enterRuns} runs; " +
                              $"capture's tracepoint_enter {captureNs / Math.Max(1.0, captureRuns):0.0} ns/run");
        }
        finally
        {
            File.WriteAllText("/proc/sys/kernel/bpf_stats_enabled", "0");
            Volatile.Write(ref stop, true);
            drain.Join();
        }
        return 0;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>run_time_ns and run_cnt of the loaded program with this name (the most recent one).</summary>
    private static (double Ns, long Runs) RunStats(string program)
    {
        var info = new ProcessStartInfo("bpftool", "prog show -j") { RedirectStandardOutput = true };
        using var process = Process.Start(info)!;
        var json = JsonDocument.Parse(process.StandardOutput.ReadToEnd());
        process.WaitForExit();
        var prog = json.RootElement.EnumerateArray().Last(p => p.TryGetProperty("name", out var n) && n.GetString() == program);
        return (prog.TryGetProperty("run_time_ns", out var t) ? t.GetDouble() : 0, prog.TryGetProperty("run_cnt", out var c) ? c.GetInt64() : 0);
    }
}
