// SNT-0001: move_pages on another process.
public sealed class CrossProcessMigration : Rule
{
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-0001",
        Version = "1.0.0",
        Name = "Cross-process page migration",
        Description =
            "move_pages named a pid that is neither 0 nor the caller, so the caller moved or located pages of " +
            "another process. The kernel allows it after a ptrace-read check, and NUMA balancers such as numad " +
            "do it legitimately, hence medium rather than high. It is also how a process inspects or perturbs " +
            "another's memory placement (side channels, layout discovery), which maps to Process Injection " +
            "(T1055) under Defense Evasion and Privilege Escalation.",
        Severity = Severity.Medium,
        MitreTactics = ["TA0005", "TA0004"],
        MitreTechniques = ["T1055"],
        Tags = ["move_pages", "cross-process", "memory"],
        Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        if (e.IsSelf) return;
        findings.Add(
            $"{e.Comm} ({e.Pid}) called move_pages on process {e.TargetPid}" + (e.Failed ? $" and got {e.ErrnoName}" : ""),
            ("target_pid", e.TargetPid),
            ("target_comm", e.Enrichment.Target?.Comm),
            ("query_mode", e.IsQueryMode),
            ("result", e.Failed ? e.ErrnoName : "ok"));
    }
}
