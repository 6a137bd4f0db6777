// hostile: an interpolation hole aligned to 999,999,999 characters (2 GB)
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-interpolation-alignment", Description = "an interpolation hole aligned to 999,999,999 characters (2 GB)",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        findings.Add($"{e.Pid,999999999}");
    }
}
