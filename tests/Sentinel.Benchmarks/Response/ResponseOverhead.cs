using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.Response;
using Sentinel.TestSupport;
using Sentinel.Bpf;

namespace Sentinel.Benchmarks.Response;

/// <summary>
/// `response-overhead [CALLS] [ROUNDS]`: the added cost per move_pages call of an installed kernel policy that does
/// not match, against capture alone, all in the same run, in rotation, medians over the rounds:
/// <list type="bullet">
/// <item>the kernel's own run time per invocation of the response programs (kernel.bpf_stats_enabled), next to
/// an empty program on the same tracepoint (bpf/response_bench.bpf.c): the floor that the measurement itself
/// costs;</item>
/// <item>the calling thread's CPU time per call (CLOCK_THREAD_CPUTIME_ID, which time spent preempted by other
/// jobs does not inflate) and the wall clock per call, for capture alone and capture + response.</item>
/// </list>
/// </summary>
internal static unsafe partial class ResponseOverhead
{
    private sealed record Round(double AloneCpu, double AloneWall, double PolicyCpu, double PolicyWall,
        double EnterNs, double CompatNs, double EmptyEnterNs, double FloorNs);

    public static int Run(string[] args)
    {
        var calls = args.Length > 0 ? int.Parse(args[0]) : 300_000;
        var rounds = args.Length > 1 ? int.Parse(args[1]) : 5;
        BpfEnvironment.EnsureReady();
        using var capture = MovePagesProbe.Attach(NullLogger.Instance, [AttachStrategy.Tracepoint]);
        using var reader = new RingBufferReader(capture.EventsMapFd, _ => { });
        var stop = false;
        var drain = new Thread(() => RingBufferLoop.Run(reader, DrainSchedule.Every(50), () => Volatile.Read(ref stop))) { IsBackground = true };
        drain.Start();
        var page = (ulong*)MovePagesCalls.MapTouched(1);
        var status = stackalloc int[1];
        var pages = stackalloc ulong[1] { (ulong)page };
        var nonMatching = new InstalledPolicy("SNT-0002",
            new KernelPolicy { Flags = MoveFlags.MoveAll, Lacks = Capability.SysNice, Comm = "no-such-comm" }, ResponseAction.Kill);
        var options = new ResponseOptions { Mode = ResponseMode.Enforce };
        ResponsePath[] signalPath = [ResponsePath.TracepointSignal];

        (double Cpu, double Wall) PerCall()
        {
            var cpu0 = CpuClock.ThreadNs();
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < calls; i++) MovePagesCalls.MovePages(0, 1, pages, null, status, 0);
            return ((CpuClock.ThreadNs() - cpu0) / (double)calls, watch.Elapsed.TotalNanoseconds / calls);
        }

        PerCall(); // warm up
        var results = new List<Round>();
        File.WriteAllText("/proc/sys/kernel/bpf_stats_enabled", "1");
        try
        {
            for (var r = 0; r < rounds; r++)
            {
                var alone = PerCall();

                double emptyEnter;
                using (var idle = KernelResponder.Attach(options, NullLogger.Instance, signalPath))
                {
                    // Attached, nothing installed: the early exit.
                    PerCall();
                    emptyEnter = NsPerRun(NewProgram("response_enter"));
                }

                (double Cpu, double Wall) withPolicy;
                double enter, compat;
                using (var responder = KernelResponder.Attach(options, NullLogger.Instance, signalPath))
                {
                    responder.Install([nonMatching]);
                    withPolicy = PerCall();
                    enter = NsPerRun(NewProgram("response_enter"));
                    compat = NsPerRun(NewProgram("response_enter_compat"));
                }

                double floor;
                using (var bench = BpfObject.Open(BpfObjectFiles.Path("response_bench")))
                {
                    bench.Load();
                    bench.Attach("response_floor");
                    PerCall();
                    floor = NsPerRun(NewProgram("response_floor"));
                }
                results.Add(new Round(alone.Cpu, alone.Wall, withPolicy.Cpu, withPolicy.Wall, enter, compat, emptyEnter, floor));
            }
        }
        finally
        {
            File.WriteAllText("/proc/sys/kernel/bpf_stats_enabled", "0");
            Volatile.Write(ref stop, true);
            drain.Join();
        }

        string Line(string what, Func<Round, double> value) =>
            $"{what,-44} median {Statistics.Median(results.Select(value)),7:0.0}  rounds [{string.Join(", ", results.Select(x => value(x).ToString("0.0")))}]";
        Console.WriteLine($"{calls} calls per measurement, {rounds} rounds; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine(Line("response_enter, 1 non-matching policy ns/run", x => x.EnterNs));
        Console.WriteLine(Line("response_enter, nothing installed ns/run", x => x.EmptyEnterNs));
        Console.WriteLine(Line("response_enter_compat (every syscall) ns/run", x => x.CompatNs));
        Console.WriteLine(Line("empty program (floor) ns/run", x => x.FloorNs));
        Console.WriteLine(Line("policy added, net of floor, ns/call", x => x.EnterNs + x.CompatNs - 2 * x.FloorNs));
        Console.WriteLine(Line("capture alone, thread CPU ns/call", x => x.AloneCpu));
        Console.WriteLine(Line("capture + policy, thread CPU ns/call", x => x.PolicyCpu));
        Console.WriteLine(Line("added, thread CPU ns/call", x => x.PolicyCpu - x.AloneCpu));
        Console.WriteLine(Line("capture alone, wall ns/call", x => x.AloneWall));
        Console.WriteLine(Line("capture + policy, wall ns/call", x => x.PolicyWall));
        return 0;
    }

    /// <summary>The loaded program with this name and the highest id: the one this process loaded last (ids only
    /// grow, and nothing else loads these programs while the benchmark runs).</summary>
    private static JsonElement NewProgram(string name) =>
        Programs().Where(p => p.Name == name).MaxBy(p => p.Id).Json;

    private static double NsPerRun(JsonElement prog)
    {
        var ns = prog.TryGetProperty("run_time_ns", out var t) ? t.GetDouble() : 0;
        var runs = prog.TryGetProperty("run_cnt", out var c) ? c.GetDouble() : 0;
        return runs > 0 ? ns / runs : double.NaN;
    }

    private static IEnumerable<(string Name, long Id, JsonElement Json)> Programs()
    {
        var info = new ProcessStartInfo("bpftool", "prog show -j") { RedirectStandardOutput = true };
        using var process = Process.Start(info)!;
        var json = JsonDocument.Parse(process.StandardOutput.ReadToEnd());
        process.WaitForExit();
        return json.RootElement.EnumerateArray()
            .Where(p => p.TryGetProperty("name", out _))
            .Select(p => (p.GetProperty("name").GetString()!, p.GetProperty("id").GetInt64(), p.Clone()))
            .ToArray();
    }

}
