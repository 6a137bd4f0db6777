// hostile: a 64 KB field value and 200 fields on every event
// expect: running truncated
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile out-huge-field", Description = "a 64 KB field value and 200 fields on every event",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var v = "0123456789abcdef";
        v = v + v;
        v = v + v;
        v = v + v;
        v = v + v;
        v = v + v;
        v = v + v;
        v = v + v;
        v = v + v;
        v = v + v;
        v = v + v;
        v = v + v;
        var fields = new (string, object?)[200];
        for (var i = 0; i < fields.Length; i++) fields[i] = ("f" + i, v);
        findings.Add("fields", fields);
    }
}
