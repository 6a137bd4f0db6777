using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Sentinel.Benchmarks.Rules;

/// <summary>
/// `rules-authoring [ROUNDS] [--sentinel BIN] [--before BIN]`: the whole-process cost of `sentinel rules lint rules`
/// and `sentinel rules test rules` against `sentinel events describe` (process start and exit, no rules), all
/// in the same run, in rotation, warm (each command runs once before the rounds), medians over the rounds.
/// Each process's wall clock and its CPU time (user + system, from getrusage(RUSAGE_CHILDREN), which a loaded
/// machine inflates far less than the wall clock). <c>--before</c> adds the same commands run by another build
/// (e.g. the previous commit's), so a change is measured against its own past on the same machine state.
/// </summary>
internal static partial class RuleAuthoringCommands
{
    private sealed record Subject(string Label, string Binary, string[] Args);

    public static int Run(string[] args)
    {
        var rounds = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 9;
        var root = RepositoryRoot();
        var sentinel = Option(args, "--sentinel") ?? Path.Combine(root, "src/Sentinel.Cli/bin/Release/net10.0/sentinel");
        var before = Option(args, "--before");
        List<Subject> subjects =
        [
            new("baseline: `events describe`", sentinel, ["events", "describe"]),
            new("`rules lint rules`", sentinel, ["rules", "lint", "rules"]),
            new("`rules test rules`", sentinel, ["rules", "test", "rules"]),
        ];
        if (before is not null)
        {
            subjects.Add(new("before: `rules lint rules`", before, ["rules", "lint", "rules"]));
            subjects.Add(new("before: `rules test rules`", before, ["rules", "test", "rules"]));
        }

        foreach (var s in subjects)
        {
            var (exit, _, _) = Measure(s, root);
            if (exit != 0)
            {
                Console.Error.WriteLine($"{s.Label}: exit {exit} (expected 0)");
                return 1;
            }
        }
        var samples = subjects.ToDictionary(s => s, _ => new List<(double Wall, double Cpu)>());
        for (var i = 0; i < rounds; i++)
            foreach (var s in subjects)
            {
                var (_, wall, cpu) = Measure(s, root);
                samples[s].Add((wall, cpu));
            }

        var baseWall = Statistics.Median(samples[subjects[0]].Select(x => x.Wall));
        var baseCpu = Statistics.Median(samples[subjects[0]].Select(x => x.Cpu));
        Console.WriteLine($"{rounds} rounds, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end");
        Console.WriteLine("| command | wall, median (min-max) | ratio | CPU, median (min-max) | ratio |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var s in subjects)
        {
            var walls = samples[s].Select(x => x.Wall).ToList();
            var cpus = samples[s].Select(x => x.Cpu).ToList();
            Console.WriteLine($"| {s.Label} | {Statistics.Median(walls):F3} s ({walls.Min():F3}-{walls.Max():F3}) | {Statistics.Median(walls) / baseWall:F2}x " +
                              $"| {Statistics.Median(cpus):F3} s ({cpus.Min():F3}-{cpus.Max():F3}) | {Statistics.Median(cpus) / baseCpu:F2}x |");
        }
        return 0;
    }

    private static (int Exit, double Wall, double Cpu) Measure(Subject subject, string root)
    {
        var info = new ProcessStartInfo(subject.Binary)
        {
            WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in subject.Args) info.ArgumentList.Add(a);
        var cpu0 = ChildrenCpuSeconds();
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        var wall = watch.Elapsed.TotalSeconds;
        Task.WaitAll(output, error);
        // The runtime reaps the child on SIGCHLD; wait until its usage has been added to ours.
        var cpu = ChildrenCpuSeconds() - cpu0;
        for (var spin = 0; cpu <= 0 && spin < 100; spin++)
        {
            Thread.Sleep(1);
            cpu = ChildrenCpuSeconds() - cpu0;
        }
        return (process.ExitCode, wall, cpu);
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? Path.GetFullPath(args[i + 1]) : null;
    }

    private static string RepositoryRoot() => TestSupport.RepoPaths.Root;

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NvCsw, NivCsw;
    }

    private const int RUsageChildren = -1;

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetRUsage(int who, out RUsage usage);

    private static double ChildrenCpuSeconds()
    {
        if (GetRUsage(RUsageChildren, out var u) != 0) throw new InvalidOperationException($"getrusage: errno {Marshal.GetLastPInvokeError()}");
        return u.UserSeconds + u.SystemSeconds + (u.UserMicroseconds + u.SystemMicroseconds) / 1e6;
    }
}
