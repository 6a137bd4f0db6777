// hostile: a HashSet of keys whose hashes all collide: quadratic inserts, each comparison a rule-defined Equals
// expect: quarantined step budget
public sealed class Hostile : Rule
{
    public sealed class Key(int v)
    {
        public int V => v;
        public override int GetHashCode() => 1;
        public override bool Equals(object? other) => other is Key k && k.V == V;
    }
    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-colliding-hashes", Description = "a HashSet of keys whose hashes all collide: quadratic inserts, each comparison a rule-defined Equals",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var set = new HashSet<Key>();
        for (var i = 0; i < 100_000; i++) set.Add(new Key(i));
        findings.Add("unreachable " + set.Count);
    }
}
