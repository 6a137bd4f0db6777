// hostile: a dictionary keyed by attacker-controlled values (time, pid), 32 KB per key
// expect: quarantined state budget
public sealed class Hostile : Rule
{
    private readonly Dictionary<(long, int), string> _byKey = new();
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile state-attacker-keys", Description = "a dictionary keyed by attacker-controlled values (time, pid), 32 KB per key",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var s = "0123456789abcdef";
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        _byKey[(e.TimeUnixNs, e.Pid)] = s;
    }
}
