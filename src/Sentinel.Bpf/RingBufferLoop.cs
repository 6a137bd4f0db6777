namespace Sentinel.Bpf;

/// <summary>
/// How long a ring's reader waits between drains: <see cref="BusyMs"/> after a drain that found records, doubling up
/// to <see cref="IdleMs"/> while none come. Only the kernel's wakeup ends a wait early: records a probe submits without
/// one (<c>BPF_RB_NO_WAKEUP</c>) wait for the timeout, which is how probes batch them.
/// </summary>
public readonly record struct DrainSchedule(int BusyMs, int IdleMs)
{
    /// <summary>The same wait whether records flow or not.</summary>
    public static DrainSchedule Every(int ms) => new(ms, ms);

    /// <summary>The wait after one that lasted <paramref name="waited"/> ms and a drain that took <paramref name="drained"/> records.</summary>
    public int Next(int waited, int drained) => drained > 0 ? BusyMs : Math.Min(waited * 2, Math.Max(BusyMs, IdleMs));
}

/// <summary>
/// The loop every ring buffer's reader runs on its own thread until asked to stop: wait for a wakeup or the schedule's
/// timeout, drain, then the owner's periodic work. A failing wait is reported and the loop goes on after the timeout,
/// so one bad wait never ends the reading, nor spins.
/// </summary>
public static class RingBufferLoop
{
    private const int EINTR = 4;

    /// <param name="drain">Drains the ring and returns how many records it took; <see cref="RingBufferReader.Consume"/>
    /// unless the owner drains under a lock of its own (other threads may drain too).</param>
    /// <param name="afterDrain">The owner's periodic work, after each drain.</param>
    /// <param name="onWaitError">Told libbpf's message when waits start failing (other than by a signal), once until one succeeds.</param>
    public static void Run(RingBufferReader reader, DrainSchedule schedule, Func<bool> stopRequested,
        Func<int>? drain = null, Action? afterDrain = null, Action<string>? onWaitError = null)
    {
        drain ??= reader.Consume;
        var wait = schedule.BusyMs;
        var failing = false;
        while (!stopRequested())
        {
            var woken = reader.Wait(wait);
            var failed = woken < 0 && woken != -EINTR;
            if (failed)
            {
                // Once per run of failures: a persistent one would otherwise log every few milliseconds.
                if (!failing) onWaitError?.Invoke(Native.Libbpf.ErrorMessage(woken));
                Thread.Sleep(wait);
            }
            failing = failed;
            // Under a flood this returns only when a stop asks it to (RingBufferReader.YieldSoon).
            var drained = drain();
            afterDrain?.Invoke();
            wait = schedule.Next(wait, drained);
        }
    }
}
