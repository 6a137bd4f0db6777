using Sentinel.Events;

namespace Sentinel.Formats.Tests;

internal static class Samples
{
    public static Detection Detection(Severity severity = Severity.High, string message = "MOVE_ALL without CAP_SYS_NICE",
        string name = "MOVE_ALL probing", string ruleId = "SNT-0002", bool enriched = true, ulong sequence = 42)
    {
        var evt = new MovePagesEvent
        {
            TimeUnixNs = 1_760_000_000_123_000_000, Pid = 4242, Tid = 4243, Ppid = 4000, Uid = 1000, Euid = 1000, Gid = 1000,
            Comm = "exploit", Flags = 4, ReturnValue = -1, TargetPid = 1, Count = 8, NodesAddress = 0x7000,
        };
        if (enriched)
        {
            evt.Enrichment.Enriched = true;
            evt.Enrichment.Caller = new ProcessInfo
            {
                Pid = 4242, StartTimeNs = 99, ParentPid = 4000, Comm = "exploit", ExePath = "/tmp/exploit", Args = ["/tmp/exploit", "--pid", "1"],
                Uid = 1000, ContainerId = "abc123",
            };
            evt.Enrichment.AncestryBuffer.Add(new ProcessInfo { Pid = 4000, StartTimeNs = 50, Comm = "bash", ExePath = "/usr/bin/bash" });
            evt.Enrichment.Target = new ProcessInfo { Pid = 1, StartTimeNs = 1, Comm = "systemd", Uid = 0 };
        }
        return new Detection
        {
            Sequence = sequence,
            Rule = new RuleInfo
            {
                Id = ruleId, Name = name, Version = "1.0.0", Severity = severity, Description = "Flags MOVE_ALL from an unprivileged caller.",
                MitreTactics = ["TA0004", "TA0007"], MitreTechniques = ["T1068", "T1057"], Tags = ["numa", "probing"],
            },
            Time = DateTimeOffset.FromUnixTimeMilliseconds(1_760_000_000_123),
            Host = "numa-01",
            Message = message,
            Fields = new Dictionary<string, string> { ["target_comm"] = "systemd", ["why"] = "a=b|c" },
            Event = evt,
        };
    }
}
