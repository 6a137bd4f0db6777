// hostile: straight-line code doubling a List<long> with AddRange 31 times (no loop, no call)
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-list-addrange-doubling", Description = "straight-line code doubling a List<long> with AddRange 31 times (no loop, no call)",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var l = new List<long> { 1 };
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        l.AddRange(l);
        findings.Add("unreachable " + l.Count);
    }
}
