// hostile: on its very first evaluation, one HashSet constructor over 400,000 distinct keys that all hash alike: minutes inside one framework call, with no rule code for a check to run in and no earlier slow evaluation to give it away
// expect: quarantined aborted inside a framework call
public sealed class Hostile : Rule
{
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-first-call-never-returns", Description = "a rule whose first evaluation makes one framework call that would run for minutes",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var keys = new List<long>();
        for (long i = 0; i < 400_000; i++) keys.Add(i * 0x1_0000_0001L);
        var set = new HashSet<long>(keys);
        if (set.Count < 0) findings.Add("never");
    }
}
