// hostile: an array of 60000 rule-defined 32 KB structs (2 GB)
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{
    public struct S1 { public long A, B, C, D, E, F, G, H; }
    public struct S2 { public S1 A, B, C, D, E, F, G, H; }
    public struct S3 { public S2 A, B, C, D, E, F, G, H; }
    public struct S4 { public S3 A, B, C, D, E, F, G, H; }
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-struct-array", Description = "an array of 60000 rule-defined 32 KB structs (2 GB)",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var a = new S4[60000];
        findings.Add("unreachable " + a.Length);
    }
}
