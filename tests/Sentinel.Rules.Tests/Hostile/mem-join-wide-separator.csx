// hostile: string.Join with a 256 KB separator over 60000 values
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-join-wide-separator", Description = "string.Join with a 256 KB separator over 60000 values",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var sep = "0123456789abcdef";
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        sep = sep + sep;
        var big = string.Join(sep, new int[60000]);
        findings.Add("unreachable " + big.Length);
    }
}
