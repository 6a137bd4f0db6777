// hostile: an exception from a ToString called by the engine while rendering fields
// expect: quarantined threw
public sealed class Hostile : Rule
{
    public sealed class Bad { public override string ToString() => throw new InvalidOperationException("no"); }
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile exc-in-tostring", Description = "an exception from a ToString called by the engine while rendering fields",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        findings.Add("field", ("bad", new Bad()));
    }
}
