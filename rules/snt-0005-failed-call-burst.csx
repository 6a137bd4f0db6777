// SNT-0005: many EPERM/ESRCH failures by one process in a short window.
public sealed class FailedCallBurst : Rule
{
    private SlidingWindow<int> _failures = new(5, TimeSpan.FromSeconds(10));

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-0005",
        Version = "1.1.0",
        Name = "Burst of failed move_pages calls",
        Description =
            "One process got EPERM or ESRCH from move_pages many times in a short window (default: 5 within " +
            "10 s; parameters SNT-0005.threshold and SNT-0005.window). ESRCH means the pid does not exist and " +
            "EPERM that the ptrace check refused it, so a run of them is a scan over pids for a reachable " +
            "process. A folded event (the probe folds identical calls while the agent lags) counts as all the " +
            "calls it stands for. Medium: reconnaissance, not yet harm; Process Discovery (T1057).",
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
        // A fold of n calls is n hits; past the threshold the window cannot tell them apart, so at most that many.
        var hits = (int)Math.Min(e.FoldCount, _failures.Threshold);
        var fired = false;
        for (var i = 0; i < hits && !fired; i++)
            fired = _failures.Record(e.Pid, e.TimeUnixNs);
        if (!fired) return;
        var failures = Math.Max(e.FoldCount, _failures.Threshold);
        findings.Add(
            $"{e.Comm} ({e.Pid}) had {failures} move_pages calls fail with EPERM/ESRCH within {_failures.Window.TotalSeconds:0.###} s" +
            (e.IsFold ? $" ({e.FoldCount} folded into one event)" : ""),
            ("failures", failures),
            ("window_s", _failures.Window.TotalSeconds),
            ("last_target_pid", e.TargetPid),
            ("last_errno", e.ErrnoName));
    }
}
