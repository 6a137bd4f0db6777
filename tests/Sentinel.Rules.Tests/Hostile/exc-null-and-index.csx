// hostile: null dereference and out-of-range index alternately
// expect: quarantined threw
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile exc-null-and-index", Description = "null dereference and out-of-range index alternately",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        string? s = e.Pid % 2 == 0 ? null : "x";
        findings.Add(s!.Length.ToString() + (new int[1])[e.Pid]);
    }
}
