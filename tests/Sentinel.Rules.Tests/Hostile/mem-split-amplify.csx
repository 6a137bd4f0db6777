// hostile: Split of a 4 M-character string of commas into 4 M pieces
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-split-amplify", Description = "Split of a 4 M-character string of commas into 4 M pieces",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var s = ",a";
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
        var parts = s.Split(',');
        findings.Add("unreachable " + parts.Length);
    }
}
