// hostile: 16 findings (the most allowed) on every event
// expect: running rate-limited
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile out-findings-flood", Description = "16 findings (the most allowed) on every event",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        for (var i = 0; i < 16; i++) findings.Add("flood " + i);
    }
}
