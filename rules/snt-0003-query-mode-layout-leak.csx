// SNT-0003: the CVE-2017-14140 pattern.
public sealed class QueryModeLayoutLeak : Rule
{
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-0003",
        Version = "1.0.0",
        Name = "Query-mode probing of another user's or a setuid process",
        Description =
            "move_pages with nodes == NULL only reports where each page lives. Aimed at another user's process " +
            "or a setuid one it reveals which addresses are mapped: CVE-2017-14140 used exactly this to defeat " +
            "ASLR of setuid binaries before exploiting them. High: there is no benign reason to map another " +
            "user's address space, and it is a step of privilege escalation (T1068), with layout discovery " +
            "under Discovery.",
        Severity = Severity.High,
        MitreTactics = ["TA0007", "TA0004"],
        MitreTechniques = ["T1068"],
        Tags = ["move_pages", "query-mode", "aslr", "CVE-2017-14140"],
        Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        if (!e.IsQueryMode || e.IsSelf) return;
        var target = e.Enrichment.Target;
        var setuid = target is not null && (target.IsSetuid || target.Uid != target.Euid);
        var otherUser = e.Enrichment.IsCrossUser || target is not null && target.Uid != e.Uid;
        if (!setuid && !otherUser) return;
        findings.Add(
            $"{e.Comm} ({e.Pid}, uid {e.Uid}) queried the page layout of " +
            (setuid ? "setuid " : "") + $"process {e.TargetPid}" + (target is null ? "" : $" ({target.Comm}, uid {target.Uid})"),
            ("target_pid", e.TargetPid),
            ("target_setuid", setuid),
            ("cross_user", otherUser),
            ("pages", e.Count),
            ("cve", "CVE-2017-14140"));
    }
}
