// hostile: a SlidingWindow whose threshold sizes a 400 MB array per key
// expect: rejected array dimension
public sealed class Hostile : Rule
{
    private readonly SlidingWindow<int> _w = new(50_000_000, TimeSpan.FromHours(1));
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-sliding-window-threshold", Description = "a SlidingWindow whose threshold sizes a 400 MB array per key",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        if (_w.Record(e.Pid, e.TimeUnixNs)) findings.Add("burst");
    }
}
