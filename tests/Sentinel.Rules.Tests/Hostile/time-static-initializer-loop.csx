// hostile: a static initializer that never ends: the loader runs it under the step budget and refuses the rule
// expect: rejected step budget
public sealed class Hostile : Rule
{
    public static class Holder { public static readonly int Value = Spin(); private static int Spin() { var i = 0; while (true) i++; } }
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-static-initializer-loop", Description = "a static initializer that never ends, first touched from Match",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        findings.Add("value " + Holder.Value);
    }
}
