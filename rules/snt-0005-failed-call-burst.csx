// SNT-0005: many EPERM/ESRCH failures by one process in a short window.
public sealed class FailedCallBurst : Rule
{
    private SlidingWindow<int> _failures = new(5, TimeSpan.FromSeconds(10));

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-0005",
        Version = "1.2.0",
        Name = "Burst of failed move_pages calls",
        Description =
            "One process got EPERM or ESRCH from move_pages many times in a short window (default: 5 within " +
            "10 s; parameters SNT-0005.threshold and SNT-0005.window). ESRCH means the pid does not exist and " +
            "EPERM that the ptrace check refused it, so a run of them is a scan over pids for a reachable " +
            "process. A folded event (the probe folds identical calls while the agent lags) counts as all the " +
            "calls it stands for, spread over its first-to-last span. Medium: reconnaissance, not yet harm; Process Discovery (T1057).",
        Severity = Severity.Medium,
        MitreTactics = ["TA0007"],
        MitreTechniques = ["T1057"],
        Tags = ["move_pages", "scanning", "stateful"],
        Events = ["move_pages"],
        // Under `run --enforce`: the scanner is killed at its next move_pages.
        Response = RuleResponse.Kill,
    };

    public override void Configure(RuleParameters parameters) =>
        _failures = new SlidingWindow<int>(
            parameters.GetInt("threshold", 5),
            parameters.GetDuration("window", TimeSpan.FromSeconds(10)));

    public override void Match(MovePagesEvent e, Findings findings)
    {
        if (e.Errno != Errno.EPERM && e.Errno != Errno.ESRCH) return;
        // A fold of n calls is n hits between its first and last call. Only their count and span are known, so
        // they are taken as evenly spread (the spread that puts the fewest in any one window): it fires only if
        // the calls certainly made a burst. Its latest hits are the ones that matter, at most a threshold of them.
        var n = e.FoldCount;
        var hits = (int)Math.Min(n, _failures.Threshold);
        var span = e.IsFold ? (double)(e.FoldLastUnixNs - e.FoldFirstUnixNs) : 0;
        var fired = false;
        for (var i = 0; i < hits && !fired; i++)
        {
            var at = n > 1 ? e.FoldFirstUnixNs + (long)(span * (n - hits + i) / (n - 1)) : e.TimeUnixNs;
            fired = _failures.Record(e.Pid, at);
        }
        if (!fired) return;
        var failures = e.IsFold && span <= _failures.Window.Ticks * 100 ? Math.Max(n, _failures.Threshold) : _failures.Threshold;
        findings.Add(
            $"{e.Comm} ({e.Pid}) had {failures} move_pages calls fail with EPERM/ESRCH within {_failures.Window.TotalSeconds:0.###} s" +
            (e.IsFold ? $" ({n} folded into one event over {span / 1e9:0.###} s)" : ""),
            ("failures", failures),
            ("window_s", _failures.Window.TotalSeconds),
            ("last_target_pid", e.TargetPid),
            ("last_errno", e.ErrnoName));
    }
}
