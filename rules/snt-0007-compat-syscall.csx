// SNT-0007: a 32-bit move_pages on a 64-bit host. Written in the concise form: top-level code that runs
// once when the rule loads, declaring the metadata and the function the engine calls per event.
using static Sentinel.Rules.RuleScript;

Define(new RuleInfo
{
    Id = "SNT-0007",
    Version = "1.0.0",
    Name = "32-bit (compat) move_pages on a 64-bit host",
    Description =
        "A 32-bit task called move_pages through the compat entry point (i386 number 317) on a 64-bit host. " +
        "Monitors that hook only the 64-bit syscall tracepoint never see these calls, which is why malware " +
        "uses them, and 32-bit NUMA tools are rare on 64-bit servers. Medium, Impair Defenses (T1562) " +
        "under Defense Evasion.",
    Severity = Severity.Medium,
    MitreTactics = ["TA0005"],
    MitreTechniques = ["T1562"],
    Tags = ["move_pages", "compat", "evasion"],
    Events = ["move_pages"],
});

var is64BitHost = Host.Is64Bit;

Match((e, findings) =>
{
    if (!e.Compat || !is64BitHost) return;
    findings.Add(
        $"{e.Comm} ({e.Pid}) made a 32-bit compat move_pages call on a 64-bit host",
        ("target_pid", e.EffectiveTargetPid),
        ("strategy", e.Strategy));
});
