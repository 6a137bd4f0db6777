using System.Runtime.InteropServices;

namespace Sentinel.Server.Journal;

/// <summary>
/// The calling thread's CPU time in ns (CLOCK_THREAD_CPUTIME_ID): what the writer spends computing, without the
/// time it waits on fsync or for detections. The scheduler's own accounting, not 10 ms ticks.
/// </summary>
internal static partial class ThreadCpuClock
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds, Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec ts);

    public static long NowNs() => ClockGetTime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var ts) == 0 ? ts.Seconds * 1_000_000_000 + ts.Nanoseconds : 0;
}
