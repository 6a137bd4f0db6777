// SNT-0002: MPOL_MF_MOVE_ALL without CAP_SYS_NICE.
public sealed class MoveAllWithoutCapSysNice : Rule
{
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-0002",
        Version = "1.0.0",
        Name = "MOVE_ALL without CAP_SYS_NICE",
        Description =
            "The caller passed MPOL_MF_MOVE_ALL, which also moves pages shared with other processes and needs " +
            "CAP_SYS_NICE in the initial user namespace; without it the kernel answers EPERM. Well-behaved " +
            "software checks its capabilities first, so the call is privilege probing. Medium: the kernel " +
            "refuses it, but the intent is an attempt to reach other processes' memory (Exploitation for " +
            "Privilege Escalation, T1068).",
        Severity = Severity.Medium,
        MitreTactics = ["TA0004"],
        MitreTechniques = ["T1068"],
        Tags = ["move_pages", "capabilities", "probing"],
        Events = ["move_pages"],
        // Under `run --enforce`: killed at sys_enter, before the call returns.
        Response = new RuleResponse
        {
            When = new() { Flags = MoveFlags.MoveAll, Lacks = Capability.SysNice },
            Action = ResponseAction.Kill,
        },
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        if (!e.HasFlag(MoveFlags.MoveAll) || e.HasCapability(Capability.SysNice)) return;
        findings.Add(
            $"{e.Comm} ({e.Pid}, uid {e.Uid}) asked for MPOL_MF_MOVE_ALL without CAP_SYS_NICE" +
            (e.Failed ? $" ({e.ErrnoName})" : ""),
            ("flags", e.Flags),
            ("target_pid", e.EffectiveTargetPid),
            ("result", e.Failed ? e.ErrnoName : "ok"));
    }
}
