// hostile: rewritten with variants and reloaded in a loop during the replay
// expect: running reloaded
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile reload-loop", Description = "rewritten with variants and reloaded in a loop during the replay",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        if (e.Pid % 3 == 0) findings.Add("v0");
    }
}
