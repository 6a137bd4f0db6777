// hostile: a list grown by copy constructors and ToArray, straight-line
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile mem-copy-constructor-chain", Description = "a list grown by copy constructors and ToArray, straight-line",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var l = new List<long> { 1, 2, 3, 4 };
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        l = new List<long>(l.ToArray()); l.AddRange(l.ToArray());
        findings.Add("unreachable " + l.Count);
    }
}
