using Sentinel.Events;

namespace Sentinel.Probes.Tests;

public class LossMonitorTests
{
    private sealed class Sink : IDetectionSink
    {
        public List<Detection> All { get; } = [];
        public void OnDetection(Detection detection) => All.Add(detection);
    }

    private const long Ms = 1_000_000;
    private static readonly long T0 = DateTimeOffset.Parse("2026-11-27T10:00:00Z").ToUnixTimeMilliseconds() * Ms;

    [Fact]
    public void A_loss_window_is_raised_once_it_ends_with_the_exact_count_and_its_bounds()
    {
        var sink = new Sink();
        var monitor = new LossMonitor(sink, AttachStrategy.Tracepoint);

        monitor.Observe(0, T0);
        monitor.Observe(100, T0 + 10 * Ms);
        monitor.Observe(250, T0 + 20 * Ms);
        Assert.Empty(sink.All); // still losing: the window is open
        monitor.Observe(250, T0 + 30 * Ms);
        Assert.Empty(sink.All); // a lull shorter than QuietToClose: maybe the same flood
        monitor.Observe(250, T0 + 120 * Ms);

        var d = Assert.Single(sink.All);
        Assert.Equal("SNT-0000", d.Rule.Id);
        Assert.Equal("250", d.Fields["lost"]);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(T0 / Ms), DateTimeOffset.Parse(d.Fields["window_start"]));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(T0 / Ms + 20), DateTimeOffset.Parse(d.Fields["window_end"]));
        Assert.Contains("250 move_pages events lost", d.Message);
        Assert.Equal(1, monitor.Raised);
    }

    [Fact]
    public void Later_losses_open_a_new_window_and_a_window_open_at_stop_is_flushed()
    {
        var sink = new Sink();
        var monitor = new LossMonitor(sink, AttachStrategy.Tracepoint);
        monitor.Observe(0, T0);
        monitor.Observe(7, T0 + 10 * Ms);
        monitor.Observe(7, T0 + 20 * Ms);
        monitor.Observe(7, T0 + 500 * Ms);
        monitor.Observe(10, T0 + 510 * Ms);
        monitor.Flush(T0 + 520 * Ms);

        Assert.Equal(["7", "3"], sink.All.Select(d => d.Fields["lost"]));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(T0 / Ms + 500), DateTimeOffset.Parse(sink.All[1].Fields["window_start"]));
        Assert.Equal(10UL, monitor.Reported);
    }

    [Fact]
    public void A_loss_that_goes_on_is_reported_every_window_while_it_lasts()
    {
        var sink = new Sink();
        var monitor = new LossMonitor(sink, AttachStrategy.Tracepoint);
        monitor.Observe(0, T0);
        ulong lost = 0;
        for (var t = 10; t <= 3_000; t += 10) monitor.Observe(lost += 5, T0 + t * Ms);

        Assert.InRange(sink.All.Count, 2, 3);
        monitor.Flush(T0 + 3_010 * Ms);
        Assert.Equal((long)lost, sink.All.Sum(d => long.Parse(d.Fields["lost"])));
    }

    [Fact]
    public void A_flood_in_bursts_is_one_window_a_second_not_one_per_burst()
    {
        // 10 ms of loss every 100 ms (the flood: bursts of 5,000 calls every 100 ms), checked every 10 ms.
        var sink = new Sink();
        var monitor = new LossMonitor(sink, AttachStrategy.Tracepoint);
        ulong lost = 0;
        for (var t = 0; t <= 3_000; t += 10) monitor.Observe(t % 100 == 50 ? lost += 500 : lost, T0 + t * Ms);
        monitor.Flush(T0 + 3_010 * Ms);

        Assert.InRange(sink.All.Count, 3, 4);
        Assert.Equal((long)lost, sink.All.Sum(d => long.Parse(d.Fields["lost"])));
        Assert.All(sink.All, d => Assert.InRange(d.Event!.FoldLastUnixNs - d.Event.FoldFirstUnixNs, 0, 1_000 * Ms));
    }

    [Fact]
    public void No_loss_raises_nothing()
    {
        var sink = new Sink();
        var monitor = new LossMonitor(sink, AttachStrategy.Tracepoint);
        for (var t = 0; t < 100; t++) monitor.Observe(0, T0 + t * Ms);
        monitor.Flush(T0 + 100 * Ms);
        Assert.Empty(sink.All);
    }
}
