// hostile: a 2 M-character string scanned by IndexOf on every loop iteration: 100,000 framework scans, well within the step budget
// expect: quarantined time budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-string-scan-loop", Description = "a 2 M-character string scanned by IndexOf on every loop iteration: 100,000 framework scans, well within the step budget",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var s = "aaaaaaaa";
        for (var k = 0; k < 18; k++) s += s;
        var found = 0;
        for (var i = 0; i < 100_000; i++) if (s.IndexOf((char)98) >= 0) found++;
        findings.Add("unreachable " + found);
    }
}
