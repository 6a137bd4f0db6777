// hostile: state kept in a lambda closure held by a static delegate
// expect: quarantined state budget
public sealed class Hostile : Rule
{
    private static Func<int> Keep = () => 0;
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile state-closure-capture", Description = "state kept in a lambda closure held by a static delegate",
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
        var before = Keep;
        Keep = () => s.Length + before();
    }
}
