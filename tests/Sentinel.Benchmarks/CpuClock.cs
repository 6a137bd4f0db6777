using System.Runtime.InteropServices;

namespace Sentinel.Benchmarks;

/// <summary>
/// CPU time in ns from the scheduler's own accounting (clock_gettime), not the 10 ms ticks /proc/stat and
/// Process.TotalProcessorTime report, which turn short wakeups into noise.
/// </summary>
internal static unsafe partial class CpuClock
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds, Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, Timespec* ts);

    /// <summary>Every thread of this process, those that have exited included.</summary>
    public static long ProcessNs() => Read(2 /* CLOCK_PROCESS_CPUTIME_ID */);

    /// <summary>The calling thread only.</summary>
    public static long ThreadNs() => Read(3 /* CLOCK_THREAD_CPUTIME_ID */);

    private static long Read(int clock)
    {
        Timespec ts;
        ClockGetTime(clock, &ts);
        return ts.Seconds * 1_000_000_000 + ts.Nanoseconds;
    }
}
