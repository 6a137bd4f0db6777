// hostile: an interpolated object whose ToString never returns
// expect: quarantined step budget
public sealed class Hostile : Rule
{
    public sealed class Forever { public override string ToString() { while (true) { } } }
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-tostring-loop", Description = "an interpolated object whose ToString never returns",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        findings.Add($"{new Forever()}");
    }
}
