// hostile: three evaluations of about 0.4 s of CPU (a HashSet over 20,000 colliding keys), then one HashSet constructor over 320,000 colliding keys: minutes inside one framework call, with no rule code for a check to run in
// expect: quarantined aborted inside a framework call
public sealed class Hostile : Rule
{
    private int _round;

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-slow-then-one-long-call", Description = "a rule that is slow three times, then makes one framework call that would run for minutes",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var n = _round++ < 3 ? 20_000 : 40_000;
        var keys = new List<long>();
        for (long i = 0; i < n; i++) keys.Add(i * 0x1_0000_0001L);
        if (n > 20_000) { keys.AddRange(keys); keys.AddRange(keys); keys.AddRange(keys); }
        var set = new HashSet<long>(keys);
        if (set.Count < 0) findings.Add("never");
    }
}
