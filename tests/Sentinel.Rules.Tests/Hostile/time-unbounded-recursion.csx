// hostile: recursion with no end
// expect: quarantined stack budget
public sealed class Hostile : Rule
{
    private static int Deep(int n) => Deep(n + 1) + 1;
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-unbounded-recursion", Description = "recursion with no end",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        findings.Add("unreachable " + Deep(0));
    }
}
