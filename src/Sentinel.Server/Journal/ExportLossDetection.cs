using Sentinel.Events;

namespace Sentinel.Server.Journal;

/// <summary>SNT-F003: retention pruned detections the fleet stream never acknowledged. Raised by the journal itself.</summary>
public static class ExportLossDetection
{
    public const string RuleId = "SNT-F003";

    public static readonly RuleInfo Rule = new()
    {
        Id = RuleId, Version = "1.0.0", Name = "Detections pruned before export",
        Description = "Journal retention removed detections before the fleet stream acknowledged them: they are lost to the fleet.",
        Severity = Severity.High, MitreTactics = ["Defense Evasion"], MitreTechniques = ["T1562"], Tags = ["fleet", "export"],
    };

    public static Detection Create(long count, ulong first, ulong last, long total)
    {
        var now = DateTimeOffset.UtcNow;
        var evt = new MovePagesEvent { TimeUnixNs = now.ToUnixTimeMilliseconds() * 1_000_000, Pid = Environment.ProcessId, Comm = "sentinel" };
        return new Detection
        {
            Rule = Rule, Time = now, Event = evt,
            Message = $"journal retention pruned {count} detections (sequences {first}-{last}) before they were exported; {total} lost to the fleet in all",
            Fields = new Dictionary<string, string>
            {
                ["lost"] = count.ToString(), ["first_sequence"] = first.ToString(), ["last_sequence"] = last.ToString(),
                ["lost_total"] = total.ToString(),
            },
        };
    }
}
