// hostile: straight-line string doubling by concatenation, 40 times
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-string-doubling", Description = "straight-line string doubling by concatenation, 40 times",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var s = "x" + e.Pid;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        findings.Add("unreachable " + s.Length);
    }
}
