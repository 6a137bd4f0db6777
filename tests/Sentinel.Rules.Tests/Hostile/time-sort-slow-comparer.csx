// hostile: List.Sort of 20,000 references to two 512 K-character strings that differ in their last character: each comparison scans 1 MB. Each comparison is charged as copying both strings, so the allocation budget ends it; Sort wraps the overrun in an InvalidOperationException, which still quarantines at once
// expect: quarantined allocation budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-sort-slow-comparer", Description = "List.Sort of 20,000 references to two 512 K-character strings that differ in their last character: each comparison scans 1 MB",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var s = "aaaaaaaa";
        for (var k = 0; k < 16; k++) s += s;
        var (a, b) = (s + "a", s + "b");
        var list = new List<string>();
        for (var i = 0; i < 20_000; i++) list.Add(i % 3 == 0 ? a : b);
        list.Sort((x, y) => string.CompareOrdinal(x, y));
        findings.Add("unreachable " + list.Count);
    }
}
