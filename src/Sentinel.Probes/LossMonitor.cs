using Sentinel.Events;

namespace Sentinel.Probes;

/// <summary>
/// Turns records the kernel still lost (the ring was full and the call could not fold) into SNT-0000 "events
/// lost" detections, one per loss window, with the exact count. Fed the kernel's lost counter every drain
/// interval by the capture's watch thread (never by the reader, which a flood or a slow pipeline can hold);
/// a window starts at the last check that found no loss and closes once <see cref="QuietToClose"/> passes with
/// no new loss (ending at the last check that saw one), or at the first check <see cref="MaxWindow"/> or more
/// after its start. So a long flood is reported while it lasts, in windows of <see cref="MaxWindow"/> plus at
/// most one check's lateness, and a flood in bursts (an attacker's, or a generator that loses its core now and
/// then) is one detection a second, not one per burst.
/// </summary>
public sealed class LossMonitor(IDetectionSink sink, AttachStrategy strategy)
{
    public static readonly TimeSpan MaxWindow = TimeSpan.FromSeconds(1);

    /// <summary>How long without new loss ends a window early: the longest lull inside one flood.</summary>
    public static readonly TimeSpan QuietToClose = TimeSpan.FromMilliseconds(100);

    public static readonly RuleInfo Rule = new()
    {
        Id = "SNT-0000",
        Version = "1.0.0",
        Name = "events lost",
        Description =
            "The kernel dropped move_pages records because the ring buffer was full, even after folding " +
            "identical calls: those calls were never evaluated. A flood of distinct calls can do this on purpose " +
            "to blind the agent before acting. The detection carries the exact count and the window.",
        Severity = Severity.High,
        MitreTactics = ["TA0005"],
        MitreTechniques = ["T1562"],
        Tags = ["sentinel", "capture", "loss"],
        Events = ["move_pages"],
    };

    private ulong _seen, _reported;
    private long _quietSinceNs, _windowStartNs, _lastLossNs;
    private bool _open;
    private long _raised;

    /// <summary>SNT-0000 detections raised so far.</summary>
    public long Raised => Interlocked.Read(ref _raised);

    /// <summary>Calls reported lost in raised detections so far.</summary>
    public ulong Reported => Volatile.Read(ref _reported);

    /// <summary>Feeds the kernel's lost total as of <paramref name="nowUnixNs"/>. Call from one thread.</summary>
    public void Observe(ulong lostTotal, long nowUnixNs) => Observe(lostTotal, nowUnixNs, nowUnixNs);

    /// <summary>
    /// Feeds the kernel's lost total, read between <paramref name="beforeUnixNs"/> and <paramref name="nowUnixNs"/>:
    /// a loss it shows happened before <paramref name="nowUnixNs"/>, and one it does not show came after
    /// <paramref name="beforeUnixNs"/>, however long the reading thread was held between the two.
    /// </summary>
    public void Observe(ulong lostTotal, long beforeUnixNs, long nowUnixNs)
    {
        if (lostTotal > _seen)
        {
            if (!_open)
            {
                _open = true;
                // The losses happened after the last check that found none.
                _windowStartNs = _quietSinceNs == 0 ? nowUnixNs : _quietSinceNs;
            }
            _seen = lostTotal;
            _lastLossNs = nowUnixNs;
            if (nowUnixNs - _windowStartNs >= MaxWindow.Ticks * 100) Close(nowUnixNs);
            return;
        }
        if (_open && (nowUnixNs - _lastLossNs >= QuietToClose.Ticks * 100 || nowUnixNs - _windowStartNs >= MaxWindow.Ticks * 100))
            Close(_lastLossNs);
        _quietSinceNs = beforeUnixNs;
    }

    /// <summary>Reports a window still open (at stop).</summary>
    public void Flush(long nowUnixNs)
    {
        if (_open) Close(_lastLossNs == 0 ? nowUnixNs : _lastLossNs);
    }

    private void Close(long endNs)
    {
        var lost = _seen - _reported;
        var start = _windowStartNs;
        _open = false;
        _quietSinceNs = endNs;
        if (lost == 0) return;
        Volatile.Write(ref _reported, _seen);
        Interlocked.Increment(ref _raised);
        sink.OnDetection(Build(lost, start, endNs));
    }

    private Detection Build(ulong lost, long startNs, long endNs)
    {
        var evt = new MovePagesEvent
        {
            TimeUnixNs = endNs,
            Pid = Environment.ProcessId,
            Tid = Environment.ProcessId,
            Comm = "sentinel",
            Strategy = strategy,
            FoldFirstUnixNs = startNs,
            FoldLastUnixNs = endNs,
        };
        var start = DateTimeOffset.FromUnixTimeMilliseconds(startNs / 1_000_000);
        var end = DateTimeOffset.FromUnixTimeMilliseconds(endNs / 1_000_000);
        return new Detection
        {
            Rule = Rule,
            Time = end,
            Message = $"{lost} move_pages events lost in the kernel between {start:yyyy-MM-ddTHH:mm:ss.fffZ} and " +
                      $"{end:yyyy-MM-ddTHH:mm:ss.fffZ}: the ring buffer was full and the calls could not fold",
            Fields = new Dictionary<string, string>
            {
                ["lost"] = lost.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["window_start"] = start.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                ["window_end"] = end.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                ["lost_total"] = _seen.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
            Event = evt,
        };
    }
}
