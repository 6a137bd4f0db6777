using System.Globalization;

namespace Sentinel.Rules.Runtime;

/// <summary>
/// Bounds the CPU time of one rule evaluation. The step budget counts the rule's own loops and calls, but not
/// the work inside a framework call: inserting keys that all collide into a HashSet, or scanning a long string
/// on every iteration, is quadratic within a step budget that is never reached. One background thread samples
/// each evaluating thread's CPU time (from /proc) a few times per limit; once an evaluation has used more than
/// <see cref="BudgetLimits.MaxEvaluationCpu"/>, it marks that evaluation expired, and the rule's next check (at
/// its next statement, loop iteration or call) throws, so the rule is quarantined and the pipeline goes on.
/// </summary>
/// <remarks>
/// The pipeline thread pays two stores per evaluation and one read per check; the sampling costs the watchdog
/// thread one small file read per busy thread per period. A single framework call that runs long (one
/// <c>new HashSet&lt;long&gt;(list)</c> of colliding keys) runs no check: under a <see cref="RuleGuard"/> (the
/// agent's pipeline, replay) the watchdog aborts it at the limit; elsewhere it is judged when it returns.
/// </remarks>
internal static class RuleWatchdog
{
    private sealed class Watched(RuleBudget.State state, string? statPath)
    {
        public readonly RuleBudget.State State = state;
        public readonly string? StatPath = statPath;
        public long SeenEpoch = -1;
        public long StartCpuMs;
        public long LastCpuMs;
    }

    private static readonly List<Watched> Threads = [];
    private static Thread? _thread;

    /// <summary>Times the evaluations of the calling thread from now on; called once per thread.</summary>
    internal static RuleBudget.State Register(RuleBudget.State state)
    {
        var watched = new Watched(state, ThreadStatPath());
        lock (Threads)
        {
            Threads.Add(watched);
            if (_thread is null)
            {
                // Published only once it runs: a start refused (no threads left) is retried by the next registration.
                var thread = new Thread(Run) { IsBackground = true, Name = "sentinel-rule-watchdog", Priority = ThreadPriority.AboveNormal };
                thread.Start();
                _thread = thread;
            }
        }
        return state;
    }

    /// <summary>How many threads are timed (a test seam).</summary>
    internal static int Count
    {
        get { lock (Threads) return Threads.Count; }
    }

    /// <summary>Stops timing a thread that will evaluate no more (it is about to exit).</summary>
    internal static void Unregister(RuleBudget.State state)
    {
        lock (Threads) Threads.RemoveAll(w => ReferenceEquals(w.State, state));
    }

    private static void Run()
    {
        for (var round = 0L; ; round++)
        {
            var period = 250;
            lock (Threads)
            {
                // Now and then, drop threads that exited idle (a retired pool thread): only busy ones are sampled.
                var prune = round % 64 == 0;
                for (var i = Threads.Count - 1; i >= 0; i--)
                {
                    var w = Threads[i];
                    var limitMs = (long)w.State.Limits.MaxEvaluationCpu.TotalMilliseconds;
                    period = (int)Math.Clamp(limitMs / 5, 10, period);
                    if (!Sample(w, limitMs) || prune && !w.State.Busy && Exited(w)) Threads.RemoveAt(i);
                }
            }
            Thread.Sleep(period); // a sampling period, not a wait for another thread
        }
    }

    /// <summary>The thread's /proc entry is gone (never known where /proc is missing).</summary>
    private static bool Exited(Watched w) => w.StatPath is { } path && !Directory.Exists(Path.GetDirectoryName(path));

    /// <returns>False once the thread has exited.</returns>
    private static bool Sample(Watched w, long limitMs)
    {
        var state = w.State;
        if (!state.Busy) return true;
        var epoch = Volatile.Read(ref state.Epoch);
        var cpu = CpuMs(w);
        if (cpu < 0) return false;
        if (epoch != w.SeenEpoch)
        {
            // First seen running: count from here (the part before is at most one period).
            (w.SeenEpoch, w.StartCpuMs) = (epoch, cpu);
            return true;
        }
        var used = cpu - w.StartCpuMs;
        if (used >= limitMs / 10)
        {
            Volatile.Write(ref state.SlowEpoch, epoch);
            Volatile.Write(ref state.Attention, 1);
        }
        if (used >= limitMs && state.Busy && Volatile.Read(ref state.Epoch) == epoch)
        {
            // First the rule's next check throws. Only an evaluation still running a period later, so inside one
            // framework call, is aborted (under a guard): an abort that lands on a thread busy calling small methods
            // can take the process down (see docs/RELIABILITY.md), so it is kept for what nothing else can stop.
            if (Volatile.Read(ref state.ExpiredEpoch) != epoch)
            {
                Volatile.Write(ref state.ExpiredEpoch, epoch);
                Volatile.Write(ref state.Attention, 1);
            }
            else state.Guard?.TryAbort(state, epoch);
        }
        return true;
    }

    /// <summary>The thread's user + system CPU time in ms; its wall time where /proc is missing; -1 if it exited.</summary>
    private static long CpuMs(Watched w)
    {
        if (w.StatPath is null) return Environment.TickCount64;
        string stat;
        try
        {
            stat = File.ReadAllText(w.StatPath);
        }
        catch (IOException) when (Exited(w))
        {
            return -1;
        }
        catch (IOException)
        {
            // Not gone, just not readable this time (out of descriptors, say): keep watching it.
            return w.LastCpuMs;
        }
        // Fields after the command's closing parenthesis: state is the first, utime the 12th, stime the 13th.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return w.LastCpuMs = ticks * 1000 / TicksPerSecond;
    }

    /// <summary>USER_HZ, the unit of /proc's CPU times: 100 on every Linux architecture .NET runs on.</summary>
    private const long TicksPerSecond = 100;

    private static string? ThreadStatPath()
    {
        try
        {
            // /proc/thread-self links to PID/task/TID: the calling thread's own entry, readable from any thread.
            return new FileInfo("/proc/thread-self").LinkTarget is { } target ? $"/proc/{target}/stat" : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
