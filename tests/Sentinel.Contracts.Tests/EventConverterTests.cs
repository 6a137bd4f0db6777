using Sentinel.Contracts;
using Sentinel.Events;

namespace Sentinel.Contracts.Tests;

public class EventConverterTests
{
    private static MovePagesEvent Sample()
    {
        var e = new MovePagesEvent
        {
            TimeUnixNs = 1_764_000_000_123_456_789, DurationNs = 2100, Cpu = 1, Pid = 4242, Tid = 4243, Ppid = 1,
            Uid = 1000, Euid = 0, Gid = 1000, CapEffective = 1UL << 23, Comm = "prober", MountNamespace = 4026531841,
            PidNamespace = 4026531836, CgroupId = 77, Compat = true, Strategy = AttachStrategy.RawSyscalls,
            TargetPid = 1234, Count = 3, PagesAddress = 0x1000, NodesAddress = 0x2000, StatusAddress = 0x3000,
            Flags = 4, ReturnValue = -1, CopiedCount = 3,
            Copies = CopyFlags.PagesAtEntry | CopyFlags.PagesAtExit | CopyFlags.NodesAtEntry | CopyFlags.NodesAtExit | CopyFlags.StatusAtExit,
        };
        for (var i = 0; i < 3; i++)
        {
            e.PagesAtEntryBuffer[i] = 0x7f00_0000_0000UL + (ulong)i * 4096;
            e.PagesAtExitBuffer[i] = e.PagesAtEntryBuffer[i];
            e.NodesAtEntryBuffer[i] = e.NodesAtExitBuffer[i] = 0;
            e.StatusBuffer[i] = -14;
        }
        e.PagesAtExitBuffer[1] = 0xdead_0000;
        // A single call, as the decoder gives it: a fold of one whose first and last times are the call's.
        e.FoldFirstUnixNs = e.FoldLastUnixNs = e.TimeUnixNs;
        e.ComputeToctou();
        return e;
    }

    [Fact]
    public void An_event_survives_the_json_round_trip_field_for_field()
    {
        var original = Sample();
        var copy = new MovePagesEvent();

        EventJson.Parse(EventJson.Format(original), copy);

        Assert.Equivalent(original, copy);
        Assert.Equal(original.PagesAtExit.ToArray(), copy.PagesAtExit.ToArray());
        Assert.Equal(0b10u, copy.PagesChangedMask);
        Assert.Equal("EPERM", copy.ErrnoName);
    }

    [Fact]
    public void The_proto_event_lists_the_changed_indexes_and_the_errno()
    {
        var proto = EventConverter.ToProto(Sample());

        Assert.True(proto.Toctou.Changed);
        Assert.Equal([1u], proto.Toctou.PagesChanged);
        Assert.Empty(proto.Toctou.NodesChanged);
        Assert.Equal("EPERM", proto.Errno);
        Assert.Equal(V1.AttachStrategy.RawSyscalls, proto.Strategy);
        Assert.Equal(["pid", "count", "pages", "nodes", "status", "flags", "return"], proto.Args.Select(a => a.Name));
    }

    [Fact]
    public void Forged_toctou_evidence_is_recomputed_from_the_copies()
    {
        var proto = EventConverter.ToProto(Sample());
        proto.Toctou.PagesChanged.Clear();
        proto.Toctou.Changed = false;
        var parsed = new MovePagesEvent();

        EventConverter.FromProto(proto, parsed);

        Assert.Equal(0b10u, parsed.PagesChangedMask);
    }

    [Theory]
    [InlineData("unknown argument", "args", "unknown argument \"bogus\"")]
    [InlineData("wrong kind", "args[pid]", "expected a value of kind IntValue")]
    [InlineData("contradicting tags", "args[nodes].tags", "expected [U, TOCTOU, OPT]")]
    [InlineData("too many copies", "copies.copied", "at most 16")]
    [InlineData("short copy", "copies.status", "expected 3 entries")]
    [InlineData("missing argument", "args", "missing argument \"flags\"")]
    [InlineData("other event", "name", "expected \"move_pages\"")]
    [InlineData("comm longer than a task's", "context.comm", "at most 16 characters, got 17")]
    [InlineData("a 20 MB comm", "context.comm", "at most 16 characters, got 20000000")]
    [InlineData("exe path past PATH_MAX", "enrichment.target.exePath", "at most 4096 characters, got 4097")]
    [InlineData("a huge argument", "enrichment.ancestry[1].args[2]", "at most 4096 characters")]
    [InlineData("too many arguments", "enrichment.caller.args", "at most 1024 arguments")]
    [InlineData("an ancestry no tree keeps", "enrichment.ancestry", "at most 64 processes, got 65")]
    [InlineData("a long container id", "enrichment.caller.containerId", "at most 4096 characters")]
    public void Hostile_events_are_rejected_naming_the_field(string forgery, string field, string message)
    {
        var proto = EventConverter.ToProto(Sample());
        var process = new V1.Process { Pid = 7, Comm = "bash", ExePath = "/usr/bin/bash", Args = { "bash", "-c", "x" } };
        proto.Enrichment = new V1.Enrichment { Caller = process.Clone(), Target = process.Clone(), Ancestry = { process.Clone(), process.Clone() } };
        switch (forgery)
        {
            case "comm longer than a task's": proto.Context.Comm = new string('c', 17); break;
            case "a 20 MB comm": proto.Context.Comm = new string('c', 20_000_000); break;
            case "exe path past PATH_MAX": proto.Enrichment.Target.ExePath = "/" + new string('x', 4096); break;
            case "a huge argument": proto.Enrichment.Ancestry[1].Args[2] = new string('a', 1 << 20); break;
            case "too many arguments": proto.Enrichment.Caller.Args.Add(Enumerable.Repeat("a", 1025)); break;
            case "an ancestry no tree keeps": proto.Enrichment.Ancestry.Add(Enumerable.Repeat(process, 63)); break;
            case "a long container id": proto.Enrichment.Caller.ContainerId = new string('f', 5000); break;
            case "unknown argument": proto.Args[0].Name = "bogus"; break;
            case "wrong kind": proto.Args[0].UintValue = 5; break;
            case "contradicting tags": proto.Args[3].Tags.Remove("OPT"); break;
            case "too many copies": proto.Copies.Copied = 17; break;
            case "short copy": proto.Copies.Status.RemoveAt(0); break;
            case "missing argument": proto.Args.RemoveAt(5); break;
            case "other event": proto.Name = "mbind"; break;
        }

        var ex = Assert.Throws<EventFormatException>(() => EventConverter.FromProto(proto, new MovePagesEvent()));

        Assert.Equal(field, ex.Field);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void The_longest_values_a_kernel_gives_are_accepted()
    {
        var proto = EventConverter.ToProto(Sample());
        // 16 bytes with no NUL, decoded as UTF-8: 16 characters.
        proto.Context.Comm = new string('c', 16);
        var longest = new V1.Process { Comm = new string('p', 16), ExePath = "/" + new string('x', 4095), CgroupPath = "/" + new string('g', 4095) };
        proto.Enrichment = new V1.Enrichment { Caller = longest, Ancestry = { Enumerable.Repeat(longest, 64) } };

        var parsed = new MovePagesEvent();
        EventConverter.FromProto(proto, parsed);

        Assert.Equal(16, parsed.Comm.Length);
        Assert.Equal(64, parsed.Enrichment.Ancestry.Count);
        Assert.Equal(4096, parsed.Enrichment.Caller!.ExePath.Length);
    }

    [Fact]
    public void A_bad_line_in_an_event_file_names_the_file_the_line_and_the_field()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("sentinel-events").FullName, "calls.jsonl");
        var good = EventJson.Format(Sample());
        File.WriteAllLines(path, [good, "", good.Replace("\"name\": \"flags\"", "\"name\": \"flagz\""), good]);

        var ex = Assert.Throws<EventFileException>(() => EventJson.ReadFile(path).ToList());

        Assert.Equal(3, ex.Line);
        Assert.Equal("args", ex.Field);
        Assert.StartsWith($"{path}:3: args: unknown argument \"flagz\"", ex.Message);
    }

    [Fact]
    public void Invalid_json_is_reported_as_such_with_its_line()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("sentinel-events").FullName, "calls.jsonl");
        File.WriteAllLines(path, [EventJson.Format(Sample()), "{ not json"]);

        var ex = Assert.Throws<EventFileException>(() => EventJson.ReadFile(path).ToList());

        Assert.Equal(2, ex.Line);
        Assert.Equal("json", ex.Field);
    }
}
