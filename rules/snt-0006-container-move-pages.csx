// SNT-0006: move_pages from inside a container.
public sealed class ContainerMovePages : Rule
{
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-0006",
        Version = "1.0.0",
        Name = "move_pages from inside a container",
        Description =
            "The caller's mount or pid namespace is not the host's (or the process tree places it in a " +
            "container). Docker's default seccomp profile denies move_pages, so a container making the call " +
            "runs with a relaxed or disabled profile and is touching host-level NUMA placement. High: it is a " +
            "typical step before escaping to the host (T1611, Privilege Escalation).",
        Severity = Severity.High,
        MitreTactics = ["TA0004"],
        MitreTechniques = ["T1611"],
        Tags = ["move_pages", "container", "seccomp"],
        Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var enrichment = e.Enrichment;
        var containerId = enrichment.Caller?.ContainerId ?? "";
        var inContainer = enrichment.Enriched
            ? !enrichment.CallerInHostNamespaces || containerId.Length > 0
            : Host.NamespacesKnown && e.MountNamespace != 0
              && (e.MountNamespace != Host.MountNamespace || e.PidNamespace != Host.PidNamespace);
        if (!inContainer) return;
        findings.Add(
            $"{e.Comm} ({e.Pid}) called move_pages from inside a container" +
            (containerId.Length > 0 ? $" {containerId}" : ""),
            ("container_id", containerId),
            ("mnt_ns", e.MountNamespace),
            ("pid_ns", e.PidNamespace),
            ("target_pid", e.EffectiveTargetPid));
    }
}
