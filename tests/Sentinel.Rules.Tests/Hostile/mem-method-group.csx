// hostile: string.Join taken as a delegate, to dodge the checks at call sites
// expect: quarantined taken as a delegate
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-method-group", Description = "string.Join taken as a delegate, to dodge the checks at call sites",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        Func<string, IEnumerable<string>, string> join = string.Join;
        findings.Add(join(",", ["a"]));
    }
}
