using System.Runtime.InteropServices;

namespace Sentinel.Bpf;

/// <summary>
/// CLOCK_BOOTTIME: the one kernel clock Sentinel's probes stamp with (bpf_ktime_get_boot_ns), the clock of task
/// start times, and its offset from wall-clock time, measured once. Event times go to Unix ns and back through
/// the same offset, so a converted time lands exactly on the kernel's reading; and unlike CLOCK_MONOTONIC it
/// keeps counting across suspend, as task start times do.
/// </summary>
public static partial class BootClock
{
    private const int ClockRealtime = 0, ClockBoottime = 7;

    /// <summary>Clock ticks per second as /proc/PID/stat counts them (USER_HZ).</summary>
    public const ulong TicksPerSecond = 100;
    public const ulong NsPerTick = 1_000_000_000 / TicksPerSecond;

    /// <summary>Unix ns minus boot ns, measured once.</summary>
    public static long UnixOffsetNs { get; } = Now(ClockRealtime) - Now(ClockBoottime);

    /// <summary>The Unix-ns time of a boot-clock reading from the kernel.</summary>
    public static long ToUnixNs(ulong bootNs) => (long)bootNs + UnixOffsetNs;

    public static ulong NowNs => (ulong)Now(ClockBoottime);

    /// <summary>The boot-clock time of a Unix-ns timestamp; 0 stays 0 (unknown).</summary>
    public static ulong FromUnixNs(long unixNs) => unixNs <= 0 ? 0 : (ulong)Math.Max(1, unixNs - UnixOffsetNs);

    /// <summary>A start time at the resolution /proc reports (USER_HZ ticks).</summary>
    public static ulong NormalizeStart(ulong startNs) => startNs / NsPerTick * NsPerTick;

    /// <summary>
    /// Whether two start times name the same process start. The probes report ns, so two processes that reuse a
    /// pid within one tick stay apart; /proc reports whole ticks, so a time that is an exact multiple of a tick
    /// (a ns reading hits one with odds of 1 in 10^7) matches any ns time within that tick.
    /// </summary>
    public static bool SameStart(ulong a, ulong b) =>
        a == b || ((a % NsPerTick == 0 || b % NsPerTick == 0) && NormalizeStart(a) == NormalizeStart(b));

    private static long Now(int clock)
    {
        clock_gettime(clock, out var ts);
        return ts.Seconds * 1_000_000_000 + ts.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc")]
    private static partial int clock_gettime(int clock, out TimeSpec ts);
}
