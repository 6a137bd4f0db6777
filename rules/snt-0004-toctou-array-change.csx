// SNT-0004: pages[] or nodes[] changed while the kernel was reading them.
public sealed class ToctouArrayChange : Rule
{
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-0004",
        Version = "1.0.0",
        Name = "Arguments changed during the call (TOCTOU)",
        Description =
            "The pages[] or nodes[] entries read at syscall entry differ from the same entries read at exit: " +
            "another thread rewrote the arrays while the kernel was using them. No correct program does that; " +
            "it is how kernel time-of-check/time-of-use races are exploited, and it also makes what a monitor " +
            "saw differ from what the kernel did. High, mapped to Exploitation for Privilege Escalation (T1068).",
        Severity = Severity.High,
        MitreTactics = ["TA0004", "TA0005"],
        MitreTechniques = ["T1068"],
        Tags = ["move_pages", "toctou", "race"],
        Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        if (!e.HasToctouEvidence) return;
        var which = e.PagesChangedMask != 0 && e.NodesChangedMask != 0 ? "pages[] and nodes[]"
            : e.PagesChangedMask != 0 ? "pages[]" : "nodes[]";
        findings.Add(
            $"{e.Comm} ({e.Pid}) changed {which} while move_pages was running",
            ("pages_changed_mask", $"0x{e.PagesChangedMask:x}"),
            ("nodes_changed_mask", $"0x{e.NodesChangedMask:x}"),
            ("target_pid", e.EffectiveTargetPid));
    }
}
