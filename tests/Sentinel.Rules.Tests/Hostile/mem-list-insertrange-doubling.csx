// hostile: straight-line InsertRange of a list into itself, 31 times
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-list-insertrange-doubling", Description = "straight-line InsertRange of a list into itself, 31 times",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var l = new List<string> { e.Comm };
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        l.InsertRange(0, l);
        findings.Add("unreachable " + l.Count);
    }
}
