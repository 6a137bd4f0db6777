using Google.Protobuf;
using Sentinel.Events;

namespace Sentinel.Contracts.Tests;

/// <summary>
/// DetectionWireWriter gives, byte for byte, what the V1 conversion and the generated serializer give, for the
/// journal's fields as the detection has them and as the journal stamps them.
/// </summary>
public sealed class DetectionWireWriterTests
{
    private static readonly RuleInfo Rule = new()
    {
        Id = "SNT-0002", Version = "1.0.0", Name = "MOVE_ALL probing", Description = "MOVE_ALL without CAP_SYS_NICE.",
        Severity = Severity.High, MitreTactics = ["TA0007"], MitreTechniques = ["T1057", "T1068"], Tags = ["numa"],
    };

    private static readonly string[] Strings =
    [
        "", "a", "prober", "héllo wörld", "日本語のテキスト", "emoji 🛡️🔥 and a flag 🇫🇷", "\uD800 lone high", "lone low \uDC00",
        "tab\tnew\nline\0nul", new string('x', 127), new string('y', 128), new string('é', 64), new string('z', 20_000),
    ];

    private static void AssertSameBytes(Detection d, string because)
    {
        var expected = DetectionConverter.ToProto(d).ToByteArray();
        var actual = DetectionWireWriter.ToByteArray(d);
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"{because}: {Describe(expected, actual)}");

        // As the journal prepares it: unnumbered, stamped with its journal and host.
        var proto = DetectionConverter.ToProto(d);
        proto.Sequence = proto.AgentSequence = 0;
        proto.JournalId = "01JD3K5Q2W";
        proto.HostId = "web-01 ☁";
        expected = proto.ToByteArray();
        actual = DetectionWireWriter.ToByteArray(d, 0, 0, "01JD3K5Q2W", "web-01 ☁");
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"{because}, stamped: {Describe(expected, actual)}");
    }

    private static string Describe(byte[] expected, byte[] actual)
    {
        var at = expected.AsSpan().CommonPrefixLength(actual);
        return $"{expected.Length} bytes expected, {actual.Length} written, first difference at {at}: expected " +
               $"{Convert.ToHexString(expected.AsSpan(at, Math.Min(16, expected.Length - at)))}, got " +
               $"{Convert.ToHexString(actual.AsSpan(at, Math.Min(16, actual.Length - at)))}";
    }

    private static MovePagesEvent FullEvent()
    {
        var e = new MovePagesEvent
        {
            TimeUnixNs = 1_764_000_000_123_456_789, DurationNs = 2100, Cpu = 1, Pid = 4242, Tid = 4243, Ppid = 1,
            Uid = 1000, Euid = 0, Gid = 1000, CapEffective = 1UL << 23, Comm = "prober", MountNamespace = 4026531841,
            PidNamespace = 4026531836, CgroupId = 77, Strategy = AttachStrategy.Tracepoint,
            TargetPid = 1, Count = 16, PagesAddress = 0x1000, NodesAddress = 0x2000, StatusAddress = 0x3000,
            Flags = 4, ReturnValue = -1, CopiedCount = MovePagesEvent.MaxCopied,
            Copies = CopyFlags.PagesAtEntry | CopyFlags.PagesAtExit | CopyFlags.NodesAtEntry | CopyFlags.NodesAtExit | CopyFlags.StatusAtExit,
        };
        for (var i = 0; i < MovePagesEvent.MaxCopied; i++)
        {
            e.PagesAtEntryBuffer[i] = e.PagesAtExitBuffer[i] = 0x7f00_0000_0000UL + (ulong)i * 4096;
            e.NodesAtEntryBuffer[i] = e.NodesAtExitBuffer[i] = i % 2;
            e.StatusBuffer[i] = -14;
        }
        e.PagesAtExitBuffer[3] = 0xdead_0000;
        e.NodesAtExitBuffer[15] = 7;
        e.FoldFirstUnixNs = e.FoldLastUnixNs = e.TimeUnixNs;
        e.ComputeToctou();
        return e;
    }

    private static ProcessInfo Process(int pid, string comm, string container = "") => new()
    {
        Pid = pid, StartTimeNs = 1_000_000UL * (ulong)pid, ParentPid = pid - 1, Comm = comm, ExePath = $"/usr/bin/{comm}",
        Args = [comm, "--flag", "", "ärg 🙂"], Uid = 1000, Euid = 0, Gid = 1000, IsSetuid = true,
        MountNamespace = 4026531841, PidNamespace = 4026531836, CgroupPath = "/system.slice/docker-abc.scope",
        ContainerId = container,
    };

    private static Detection DetectionOf(MovePagesEvent e) => new()
    {
        Rule = Rule, Time = DateTimeOffset.FromUnixTimeMilliseconds(1_764_000_000_123).AddTicks(4567), Host = "web-01",
        Message = "MOVE_ALL without CAP_SYS_NICE against pid 1", Event = e,
        Fields = new Dictionary<string, string> { ["target"] = "systemd", ["count"] = "16" },
    };

    public static TheoryData<string> Cases => new(CaseBuilders.Keys);

    private static readonly Dictionary<string, Func<Detection>> CaseBuilders = new()
    {
        ["a full event"] = () => DetectionOf(FullEvent()),
        ["every field at its default"] = () => new Detection
        {
            Rule = new RuleInfo { Id = "", Version = "", Name = "", Severity = Severity.Unspecified },
            Time = DateTimeOffset.UnixEpoch, Host = "", Message = "", Event = new MovePagesEvent(), FoldCount = 0,
        },
        ["a fresh event with nothing copied"] = () => DetectionOf(new MovePagesEvent()),
        ["every value at its maximum"] = () =>
        {
            var e = FullEvent();
            e.TimeUnixNs = long.MaxValue; e.DurationNs = long.MaxValue; e.Cpu = int.MaxValue; e.Pid = int.MaxValue;
            e.Tid = int.MaxValue; e.Ppid = int.MaxValue; e.Uid = e.Euid = e.Gid = uint.MaxValue;
            e.CapEffective = e.MountNamespace = e.PidNamespace = e.CgroupId = ulong.MaxValue;
            e.TargetPid = int.MaxValue; e.Count = e.PagesAddress = e.NodesAddress = e.StatusAddress = ulong.MaxValue;
            e.Flags = int.MaxValue; e.ReturnValue = long.MaxValue; e.Strategy = AttachStrategy.BtfRawTracepoint;
            e.PagesAtEntryBuffer.Fill(ulong.MaxValue); e.NodesAtEntryBuffer.Fill(int.MaxValue); e.StatusBuffer.Fill(int.MaxValue);
            e.PagesChangedMask = e.NodesChangedMask = uint.MaxValue;
            e.FoldCount = long.MaxValue; e.FoldFirstUnixNs = e.FoldLastUnixNs = long.MaxValue;
            return DetectionOf(e) with
            {
                Sequence = ulong.MaxValue, AgentSequence = ulong.MaxValue, FoldCount = uint.MaxValue,
                Time = DateTimeOffset.MaxValue, FirstTime = DateTimeOffset.MaxValue, LastTime = DateTimeOffset.MaxValue,
                Rule = Rule with { Severity = Severity.Critical },
            };
        },
        ["every value at its minimum"] = () =>
        {
            var e = FullEvent();
            e.TimeUnixNs = long.MinValue; e.DurationNs = long.MinValue; e.Cpu = int.MinValue; e.Pid = int.MinValue;
            e.Tid = int.MinValue; e.Ppid = int.MinValue; e.TargetPid = int.MinValue; e.Flags = int.MinValue;
            e.ReturnValue = long.MinValue + 1; e.NodesAtEntryBuffer.Fill(int.MinValue); e.StatusBuffer.Fill(int.MinValue);
            e.FoldCount = 2; e.FoldFirstUnixNs = long.MinValue; e.FoldLastUnixNs = -1;
            return DetectionOf(e) with
            {
                Time = DateTimeOffset.MinValue, FirstTime = DateTimeOffset.MinValue, LastTime = new DateTimeOffset(1969, 12, 31, 23, 59, 59, TimeSpan.Zero).AddTicks(1),
            };
        },
        ["query mode: no nodes"] = () =>
        {
            var e = FullEvent();
            e.NodesAddress = 0; e.Flags = 0; e.ReturnValue = 0;
            e.Copies = CopyFlags.PagesAtEntry | CopyFlags.PagesAtExit | CopyFlags.StatusAtExit;
            e.ComputeToctou();
            return DetectionOf(e);
        },
        ["a failed call with every read failed"] = () =>
        {
            var e = FullEvent();
            e.ReturnValue = -3; e.Copies = CopyFlags.None; e.ComputeToctou();
            return DetectionOf(e);
        },
        ["a call that succeeded with pages not moved"] = () =>
        {
            var e = FullEvent();
            e.ReturnValue = 5;
            return DetectionOf(e);
        },
        ["a compat call folded in the kernel"] = () =>
        {
            var e = FullEvent();
            e.Compat = true; e.Strategy = AttachStrategy.RawSyscalls;
            e.FoldCount = 300; e.FoldLastUnixNs = e.FoldFirstUnixNs + 999_999_999;
            return DetectionOf(e);
        },
        ["a fold summary of a rule"] = () => DetectionOf(FullEvent()) with
        {
            FoldCount = 42, FirstTime = DateTimeOffset.FromUnixTimeSeconds(1_764_000_000),
            LastTime = new DateTimeOffset(2026, 11, 28, 10, 0, 0, TimeSpan.FromHours(5.5)).AddTicks(1),
        },
        ["a first time without a last time"] = () => DetectionOf(FullEvent()) with { FirstTime = DateTimeOffset.UnixEpoch },
        ["enriched: caller, target, ancestry and containers"] = () =>
        {
            var e = FullEvent();
            var en = e.Enrichment;
            en.Enriched = true;
            en.Caller = Process(4242, "prober", container: "3f4e5d6c7b8a");
            en.Target = Process(1, "systemd");
            en.AncestryBuffer.AddRange([Process(4241, "bash"), Process(100, "sshd"), Process(1, "systemd")]);
            en.IsCrossProcess = en.IsCrossUser = en.IsCrossContainer = true;
            en.CallerInHostNamespaces = false;
            return DetectionOf(e);
        },
        ["enriched, with the target gone and no ancestry"] = () =>
        {
            var e = FullEvent();
            e.Enrichment.Enriched = true;
            e.Enrichment.Caller = new ProcessInfo { Pid = 0, StartTimeNs = 0 };
            e.Enrichment.CallerInHostNamespaces = true;
            return DetectionOf(e);
        },
        ["enriched with nothing known"] = () =>
        {
            var e = FullEvent();
            e.Enrichment.Enriched = true;
            return DetectionOf(e);
        },
        ["a remediation"] = () => DetectionOf(FullEvent()) with { Remediation = new Remediation("kill", "killed", "/tmp/x", "SIGKILL to 4242") },
        ["an empty remediation"] = () => DetectionOf(FullEvent()) with { Remediation = new Remediation("", "", "", "") },
        ["fields with empty keys and values, and every kind of value"] = () => DetectionOf(FullEvent()) with
        {
            Fields = new Dictionary<string, string>
            {
                [""] = "", ["empty"] = "", ["int"] = "-2147483648", ["ulong"] = ulong.MaxValue.ToString(), ["bool"] = "true",
                ["double"] = "3.14159", ["time"] = "2026-11-28T10:00:00Z", ["hex"] = "0x7f0000000000",
                ["ünïcode 🔑"] = "välue 🛡️", ["long"] = new string('v', 5000),
            },
        },
        ["the journal's fields set"] = () => DetectionOf(FullEvent()) with
        {
            Sequence = 12345, AgentSequence = 67890, JournalId = "01JD3K5Q2W", HostId = "web-01",
        },
        ["long strings everywhere (multi-byte lengths, the event over 16 KiB)"] = () =>
        {
            var e = FullEvent();
            e.Comm = new string('c', 300);
            e.Enrichment.Enriched = true;
            e.Enrichment.Caller = Process(4242, new string('p', 20_000)) with { Args = [new string('a', 70_000)] };
            return DetectionOf(e) with
            {
                Message = new string('m', 200_000), Host = new string('h', 129),
                Rule = Rule with { Id = new string('i', 16_384), Tags = [new string('t', 128), "", "🙂"] },
            };
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Writes_the_bytes_the_converter_and_the_generated_serializer_give(string name) =>
        AssertSameBytes(CaseBuilders[name](), name);

    [Fact]
    public void Writes_the_same_bytes_for_every_string_in_every_string_field()
    {
        foreach (var s in Strings)
        {
            var e = FullEvent();
            e.Comm = s;
            e.Enrichment.Enriched = true;
            e.Enrichment.Caller = Process(7, s, container: s) with { Args = [s, s] };
            var d = DetectionOf(e) with
            {
                Host = s, Message = s, Rule = Rule with { Id = s, Name = s, Version = s, Description = s, MitreTactics = [s], Tags = [s, s] },
                Fields = new Dictionary<string, string> { [s] = s }, Remediation = new Remediation(s, s, s, s),
                JournalId = s, HostId = s,
            };
            AssertSameBytes(d, $"the string \"{(s.Length > 20 ? s[..20] + "…" : s)}\" ({s.Length} chars)");
        }
    }

    [Fact]
    public void Writes_the_same_bytes_for_thousands_of_random_detections()
    {
        var random = new Random(20261128);
        for (var i = 0; i < 3000; i++) AssertSameBytes(RandomDetection(random), $"random detection {i}");
    }

    [Fact]
    public void Makes_no_conversion_and_counts_what_it_writes()
    {
        var counts = ConversionCounter.Track();
        DetectionWireWriter.ToByteArray(DetectionOf(FullEvent()));
        Assert.Equal(0, counts.Events);
        Assert.Equal(0, counts.Detections);
        Assert.Equal(1, counts.Written);
    }

    /// <summary>Each field independently at zero, a small value, a large one or an extreme, strings from <see cref="Strings"/>.</summary>
    private static Detection RandomDetection(Random r)
    {
        string S() => r.Next(4) == 0 ? "" : Strings[r.Next(Strings.Length - 1)]; // the 20,000-char one only in the fixed cases
        long L() => r.Next(6) switch
        {
            0 => 0, 1 => r.Next(1, 128), 2 => r.NextInt64(), 3 => -r.NextInt64(), 4 => long.MaxValue, _ => long.MinValue,
        };
        int I() => r.Next(5) switch { 0 => 0, 1 => r.Next(1, 200), 2 => r.Next(int.MinValue, int.MaxValue), 3 => int.MaxValue, _ => int.MinValue };
        ulong U() => (ulong)L();
        bool B() => r.Next(2) == 0;
        string[] List() => Enumerable.Range(0, r.Next(4)).Select(_ => S()).ToArray();
        DateTimeOffset Time() => r.Next(5) switch
        {
            0 => DateTimeOffset.UnixEpoch,
            1 => new DateTimeOffset(r.NextInt64(DateTimeOffset.MinValue.Ticks, DateTimeOffset.MaxValue.Ticks), TimeSpan.Zero),
            2 => new DateTimeOffset(r.NextInt64(DateTimeOffset.UnixEpoch.Ticks, DateTimeOffset.UnixEpoch.Ticks + TimeSpan.TicksPerDay * 40_000),
                TimeSpan.FromMinutes(r.Next(-14 * 60, 14 * 60))),
            3 => DateTimeOffset.MaxValue,
            _ => DateTimeOffset.MinValue,
        };
        ProcessInfo Proc() => new()
        {
            Pid = I(), StartTimeNs = U(), ParentPid = I(), Comm = S(), ExePath = S(), Args = List(), Uid = (uint)I(),
            Euid = (uint)I(), Gid = (uint)I(), IsSetuid = B(), MountNamespace = U(), PidNamespace = U(), CgroupPath = S(), ContainerId = S(),
        };

        var e = new MovePagesEvent
        {
            TimeUnixNs = L(), DurationNs = L(), Cpu = I(), Pid = I(), Tid = I(), Ppid = I(), Uid = (uint)I(), Euid = (uint)I(),
            Gid = (uint)I(), CapEffective = U(), Comm = S(), MountNamespace = U(), PidNamespace = U(), CgroupId = U(), Compat = B(),
            Strategy = (AttachStrategy)r.Next(5), TargetPid = I(), Count = U(), PagesAddress = U(), NodesAddress = r.Next(3) == 0 ? 0 : U(),
            StatusAddress = U(), Flags = I(), ReturnValue = r.Next(3) == 0 ? -r.Next(1, 140) : L(),
            CopiedCount = r.Next(MovePagesEvent.MaxCopied + 1), Copies = (CopyFlags)r.Next(32),
            FoldCount = r.Next(3) == 0 ? L() : 1, FoldFirstUnixNs = L(), FoldLastUnixNs = L(),
        };
        for (var i = 0; i < MovePagesEvent.MaxCopied; i++)
        {
            e.PagesAtEntryBuffer[i] = U(); e.PagesAtExitBuffer[i] = B() ? e.PagesAtEntryBuffer[i] : U();
            e.NodesAtEntryBuffer[i] = I(); e.NodesAtExitBuffer[i] = B() ? e.NodesAtEntryBuffer[i] : I();
            e.StatusBuffer[i] = I();
        }
        e.ComputeToctou();
        if (r.Next(3) != 0)
        {
            var en = e.Enrichment;
            en.Enriched = true;
            if (B()) en.Caller = Proc();
            if (B()) en.Target = Proc();
            for (var i = r.Next(4); i > 0; i--) en.AncestryBuffer.Add(Proc());
            en.IsCrossProcess = B(); en.IsCrossUser = B(); en.IsCrossContainer = B(); en.CallerInHostNamespaces = B();
        }
        var fields = new Dictionary<string, string>();
        for (var i = r.Next(5); i > 0; i--) fields[S() + i] = r.Next(3) switch { 0 => L().ToString(), 1 => B().ToString(), _ => S() };
        return new Detection
        {
            Sequence = U(), AgentSequence = U(), JournalId = S(), HostId = S(),
            Rule = new RuleInfo
            {
                Id = S(), Version = S(), Name = S(), Description = S(), Severity = (Severity)r.Next(6),
                MitreTactics = List(), MitreTechniques = List(), Tags = List(),
            },
            Time = Time(), Host = S(), Message = S(), Fields = fields, Event = e, FoldCount = (uint)I(),
            FirstTime = B() ? Time() : null, LastTime = B() ? Time() : null,
            Remediation = r.Next(4) == 0 ? new Remediation(S(), S(), S(), S()) : null,
        };
    }
}
