// hostile: 17 findings on one event: more than a rule may add
// expect: quarantined
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile out-too-many-findings", Description = "17 findings on one event: more than a rule may add",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        for (var i = 0; i < 17; i++) findings.Add("flood " + i);
    }
}
