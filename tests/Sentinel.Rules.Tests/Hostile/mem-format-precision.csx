// hostile: int.ToString("D999999999"): a billion digits from one call
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-format-precision", Description = "int.ToString('D999999999'): a billion digits from one call",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var f = "D" + 999999999;
        findings.Add(e.Pid.ToString(f));
    }
}
