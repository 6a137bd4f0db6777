// hostile: nested loops of a trillion iterations
// expect: quarantined step budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-nested-loops", Description = "nested loops of a trillion iterations",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        long n = 0;
        for (var i = 0; i < 1_000_000; i++) for (var j = 0; j < 1_000_000; j++) n += i ^ j;
        findings.Add("unreachable " + n);
    }
}
