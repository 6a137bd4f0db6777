// hostile: a HashSet<long> of keys whose framework hashes all collide (i * (2^32 + 1)): quadratic inside HashSet.Add, with no rule code per comparison
// expect: quarantined time budget
public sealed class Hostile : Rule
{

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile time-colliding-long-keys", Description = "a HashSet<long> of keys whose framework hashes all collide (i * (2^32 + 1)): quadratic inside HashSet.Add, with no rule code per comparison",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        var set = new HashSet<long>();
        for (long i = 0; i < 200_000; i++) set.Add(i * 0x1_0000_0001L);
        findings.Add("unreachable " + set.Count);
    }
}
