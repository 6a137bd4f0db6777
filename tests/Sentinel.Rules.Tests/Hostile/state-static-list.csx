// hostile: a static list that keeps 64 KB per event
// expect: quarantined state budget
public sealed class Hostile : Rule
{
    private static readonly List<string> Kept = [];
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile state-static-list", Description = "a static list that keeps 64 KB per event",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var s = "0123456789abcdef";
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
        Kept.Add(s);
    }
}
