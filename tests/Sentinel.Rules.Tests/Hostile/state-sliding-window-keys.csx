// hostile: a SlidingWindow with no key limit keyed by every event's time, 80 KB per key
// expect: quarantined state budget
public sealed class Hostile : Rule
{
    private readonly SlidingWindow<long> _w = new(10_000, TimeSpan.FromHours(1), maxKeys: int.MaxValue);
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile state-sliding-window-keys", Description = "a SlidingWindow with no key limit keyed by every event's time, 80 KB per key",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        if (_w.Record(e.TimeUnixNs, e.TimeUnixNs)) findings.Add("never");
    }
}
