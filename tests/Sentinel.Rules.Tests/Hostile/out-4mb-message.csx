// hostile: a 4 MB message on every event (built once, so the cost is all output)
// expect: running truncated
public sealed class Hostile : Rule
{
    public static class Big
    {
        public static readonly string Message = Make();
        private static string Make()
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
            s = s + s;
            s = s + s;
            s = s + s;
            return s;
        }
    }

    public override RuleInfo Info { get; } = new()
    {
        Id = "SNT-9100", Version = "1.0.0", Name = "hostile out-4mb-message", Description = "a 4 MB message on every event",
        Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
    };

    public override void Match(MovePagesEvent e, Findings findings)
    {
        findings.Add(Big.Message);
    }
}
