// hostile: a collection expression spreading a 1 M-element list 32 times
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-collection-spread", Description = "a collection expression spreading a 1 M-element list 32 times",
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
        long[] all = [..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l, ..l];
        findings.Add("unreachable " + all.Length);
    }
}
