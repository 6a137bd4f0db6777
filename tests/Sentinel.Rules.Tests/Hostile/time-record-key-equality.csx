// hostile: a HashSet of records with a constant hash: every insert compares with all the others through the compiler-made Equals, which no step counts
// expect: quarantined time budget
public sealed class Hostile : Rule
{
    public sealed record Key(int V)
    {
        public override int GetHashCode() => 1;
    }

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-record-key-equality", Description = "a HashSet of records with a constant hash: every insert compares with all the others through the compiler-made Equals, which no step counts",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var set = new HashSet<Key>();
        for (var i = 0; i < 100_000; i++) set.Add(new Key(i));
        findings.Add("unreachable " + set.Count);
    }
}
