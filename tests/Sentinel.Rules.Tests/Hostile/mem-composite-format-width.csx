// hostile: string.Format with a computed alignment of 999,999,999
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-composite-format-width", Description = "string.Format with a computed alignment of 999,999,999",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var f = "{0," + 999999999 + "}";
        findings.Add(string.Format(f, e.Pid));
    }
}
