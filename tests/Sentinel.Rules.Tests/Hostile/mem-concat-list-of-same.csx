// hostile: string.Concat over a list holding the same 512 KB string 4096 times
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-concat-list-of-same", Description = "string.Concat over a list holding the same 512 KB string 4096 times",
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
        s = s + s;
        s = s + s;
        s = s + s;
        s = s + s;
        var list = new List<string>();
        for (var i = 0; i < 4096; i++) list.Add(s);
        var big = string.Concat(list);
        findings.Add("unreachable " + big.Length);
    }
}
