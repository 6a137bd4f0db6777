// SNT-0008: node ids outside the host's nodes, or ENODEV: the CVE-2010-0415 pattern.
public sealed class NodeOutOfRange : Rule
{
    // MAX_NUMNODES on x86_64 with CONFIG_NODES_SHIFT=10: the bound when the host's node count is unknown.
    private const int MaxNumNodes = 1024;

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-0008",
        Version = "1.0.0",
        Name = "NUMA node id out of range",
        Description =
            "nodes[] held a negative id or one beyond the host's possible nodes, or the kernel answered ENODEV. " +
            "CVE-2010-0415 was exactly this: unchecked node values indexed kernel arrays and leaked kernel " +
            "memory. Current kernels reject them, so the call is an exploit attempt or a probe for an " +
            "unpatched kernel. High, Exploitation for Privilege Escalation (T1068).",
        Severity = Severity.High,
        MitreTactics = ["TA0004"],
        MitreTechniques = ["T1068"],
        Tags = ["move_pages", "numa", "CVE-2010-0415"],
        Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var nodes = e.NodesAtEntry;
        var limit = Host.NumaNodes > 0 ? Host.NumaNodes : MaxNumNodes;
        var bad = nodes.IndexOfAnyExceptInRange(0, limit - 1);
        var enodev = e.Errno == Errno.ENODEV;
        if (bad < 0 && !enodev) return;
        findings.Add(
            bad >= 0
                ? $"{e.Comm} ({e.Pid}) passed NUMA node {nodes[bad]} at nodes[{bad}]; the host has nodes 0-{limit - 1}"
                : $"{e.Comm} ({e.Pid}) got ENODEV: a node out of range or without memory",
            ("node", bad >= 0 ? nodes[bad] : -1),
            ("index", bad),
            ("host_nodes", limit),
            ("result", e.Failed ? e.ErrnoName : "ok"),
            ("cve", "CVE-2010-0415"));
    }
}
