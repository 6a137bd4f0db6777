// hostile: new long[60000, 60000]: each dimension small, the product 29 GB
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-multidim-array", Description = "new long[60000, 60000]: each dimension small, the product 29 GB",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var a = new long[60000 + e.Pid % 1, 60000];
        findings.Add("unreachable " + a.Length);
    }
}
