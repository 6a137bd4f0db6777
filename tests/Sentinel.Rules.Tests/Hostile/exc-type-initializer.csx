// hostile: a static initializer that throws: the loader runs it and refuses the rule
// expect: rejected static initializer of
public sealed class Hostile : Rule
{
    public static class Bad { public static readonly int Value = int.Parse("not a number"); }
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile exc-type-initializer", Description = "a static initializer that throws: every touch is a TypeInitializationException",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        findings.Add("x" + Bad.Value);
    }
}
