using System.Runtime.CompilerServices;
using Sentinel.Events;

namespace Sentinel.Response.Tests;

public sealed unsafe class LayoutAndCompilerTests
{
    [Fact]
    public void The_mirrors_match_bpf_response_h()
    {
        // The header's arithmetic: 4 u32 + 2 u64 + 6 u32 + comm[16]; count + generation + 16 policies; etc.
        Assert.Equal(72, sizeof(PolicyEntry));
        Assert.Equal(8 + 16 * 72, sizeof(PolicySet));
        Assert.Equal(40, sizeof(ResponseConfig));
        Assert.Equal(24, sizeof(VerdictEntry));
        Assert.Equal(120, sizeof(RawResponseEvent));
        var header = File.ReadAllText(Path.Combine(Sentinel.TestSupport.RepoPaths.Root, "bpf", "response.h"));
        Assert.Contains("#define SNT_RESP_MAX_POLICIES 16", header);
        Assert.Contains("#define SNT_RESP_MAGIC 0x52544e53", header);
    }

    [Fact]
    public void A_policy_checks_only_the_fields_it_sets()
    {
        var e = PolicyCompiler.Compile(new KernelPolicy { Flags = MoveFlags.MoveAll, Uid = 65534, Lacks = Capability.SysNice, Comm = "stepper64" },
            ResponseAction.Signal(19), 3);

        Assert.Equal(PolicyFields.Flags | PolicyFields.Uid | PolicyFields.CapsLacking | PolicyFields.Comm, e.Fields);
        Assert.Equal(4u, e.FlagsAll);
        Assert.Equal(65534u, e.Uid);
        Assert.Equal(1UL << 23, e.Caps);
        Assert.Equal((uint)ResponseKind.Signal, e.Action);
        Assert.Equal(19u, e.Signal);
        Assert.Equal(3u, e.Rule);
        Assert.Equal((byte)'s', e.Comm[0]);
        Assert.Equal(0, e.Comm[9]);
        Assert.Equal((PolicyFields)0, PolicyCompiler.Compile(new KernelPolicy(), ResponseAction.Kill, 0).Fields);
    }

    [Fact]
    public void Impossible_policies_are_refused_with_the_reason()
    {
        Assert.Contains("1 to 15 bytes", Assert.Throws<ArgumentException>(() =>
            PolicyCompiler.Compile(new KernelPolicy { Comm = "a-comm-longer-than-15" }, ResponseAction.Kill, 0)).Message);
        Assert.Contains("not both", Assert.Throws<ArgumentException>(() =>
            PolicyCompiler.Compile(new KernelPolicy { Lacks = Capability.SysNice, Has = Capability.SysAdmin }, ResponseAction.Kill, 0)).Message);
        var tooMany = Enumerable.Repeat(new PolicyEntry(), 17).ToList();
        Assert.Contains("at most 16", Assert.Throws<ArgumentException>(() => PolicyCompiler.CompileSet(tooMany, 1)).Message);
    }

    [Fact]
    public void A_process_start_time_is_read_past_a_comm_with_spaces_and_parentheses()
    {
        Assert.True(ProcessStart.TryRead(Environment.ProcessId, out var ticks));
        Assert.True(ticks > 0);
        Assert.False(ProcessStart.TryRead(int.MaxValue, out _));
    }
}
