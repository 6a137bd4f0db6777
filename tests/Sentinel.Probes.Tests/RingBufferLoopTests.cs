using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Bpf;
using Sentinel.TestSupport;
using static Sentinel.TestSupport.MovePagesCalls;

namespace Sentinel.Probes.Tests;

/// <summary>The one ring-reading loop the capture, the process tree and the response share, on a real probe's ring.</summary>
[Collection("live")]
public sealed class RingBufferLoopTests
{
    [Fact]
    public void Waits_start_busy_double_while_idle_up_to_the_cap_and_return_to_busy_on_records()
    {
        var schedule = new DrainSchedule(BusyMs: 20, IdleMs: 50);
        Assert.Equal(40, schedule.Next(20, drained: 0));
        Assert.Equal(50, schedule.Next(40, drained: 0));
        Assert.Equal(50, schedule.Next(50, drained: 0));
        Assert.Equal(20, schedule.Next(50, drained: 3));
        Assert.Equal(10, DrainSchedule.Every(10).Next(10, drained: 0));
    }

    [LiveFact]
    public void A_lone_record_waits_for_the_timeout_and_a_backlog_ends_the_wait()
    {
        using var probe = MovePagesProbe.Attach(NullLogger.Instance, onlyProcess: Environment.ProcessId);
        var records = 0;
        using var reader = new RingBufferReader(probe.EventsMapFd, _ => records++);
        reader.Consume();

        // The probe skips the wakeup of a lone record (batching): it waits for the drain after the timeout.
        QueryOnePage(0);
        Assert.Equal(0, reader.Wait(300));
        Assert.Equal(1, reader.Consume());

        // The record that takes the backlog across 64 records wakes the reader.
        MakeCalls(WakeupBacklog);
        Assert.Equal(1, reader.Wait(30_000));
        Assert.Equal(WakeupBacklog, reader.Consume());
        Assert.Equal(1 + WakeupBacklog, records);
    }

    [LiveFact]
    public void The_loop_drains_a_backlog_long_before_its_wait_ends_and_stops_when_asked()
    {
        using var probe = MovePagesProbe.Attach(NullLogger.Instance, onlyProcess: Environment.ProcessId);
        var records = 0;
        using var reader = new RingBufferReader(probe.EventsMapFd, _ => Interlocked.Increment(ref records));
        var stop = false;
        var loop = new Thread(() => RingBufferLoop.Run(reader, DrainSchedule.Every(60_000), () => Volatile.Read(ref stop)));
        loop.Start();

        MakeCalls(WakeupBacklog);
        Wait.Until(() => Volatile.Read(ref records) >= WakeupBacklog, "the wakeup ending the loop's 60 s wait", seconds: 30,
            detail: () => $"drained {records} of {WakeupBacklog}");

        Volatile.Write(ref stop, true);
        MakeCalls(WakeupBacklog); // wakes the wait the loop is in now
        Assert.True(loop.Join(TimeSpan.FromSeconds(30)), "the loop ends once asked to");
    }

    [LiveFact]
    public void A_broken_wait_is_reported_once_and_the_ring_is_still_drained_on_schedule()
    {
        using var probe = MovePagesProbe.Attach(NullLogger.Instance, onlyProcess: Environment.ProcessId);
        var records = 0;
        using var reader = new RingBufferReader(probe.EventsMapFd, _ => Interlocked.Increment(ref records));
        // The ring's epoll descriptor now names /dev/null: every wait fails (EINVAL). The number stays libbpf's, which
        // closes it at the end, so no other descriptor of this process can be closed by mistake.
        using (var devNull = File.OpenHandle("/dev/null"))
            Assert.True(dup2((int)devNull.DangerousGetHandle(), reader.EpollFd) >= 0, "dup2 onto the ring's epoll descriptor");
        var errors = new List<string>();
        var stop = false;
        var loop = new Thread(() => RingBufferLoop.Run(reader, DrainSchedule.Every(20), () => Volatile.Read(ref stop),
            onWaitError: error => { lock (errors) errors.Add(error); }));
        loop.Start();

        QueryOnePage(0);
        Wait.Until(() => Volatile.Read(ref records) >= 1, "the record drained after a failed wait");
        QueryOnePage(0);
        Wait.Until(() => Volatile.Read(ref records) >= 2, "the next record too");
        Volatile.Write(ref stop, true);
        Assert.True(loop.Join(TimeSpan.FromSeconds(30)), "the loop ends once asked to");

        lock (errors) Assert.Single(errors); // reported once, not on every failed wait
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int dup2(int oldFd, int newFd);

    /// <summary>The probe wakes the reader when a record takes the backlog to 64 records (bpf/move_pages.bpf.c).</summary>
    private const int WakeupBacklog = 64;

    private static void MakeCalls(int calls)
    {
        for (var i = 0; i < calls; i++) QueryOnePage(0);
    }
}
