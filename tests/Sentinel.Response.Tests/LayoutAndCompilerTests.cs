using Sentinel.Events;
using Sentinel.TestSupport;
using static Sentinel.Response.ResponseHeader;

namespace Sentinel.Response.Tests;

public sealed unsafe class LayoutAndCompilerTests
{
    [Fact]
    public void The_mirrors_match_bpf_response_h()
    {
        HeaderLayout.AssertMatchesC<PolicyEntry>("response.h", "snt_policy", PolicyEntry.LayoutFields);
        HeaderLayout.AssertMatchesC<PolicySet>("response.h", "snt_policy_set", PolicySet.LayoutFields);
        HeaderLayout.AssertMatchesC<ResponseConfig>("response.h", "snt_resp_config", ResponseConfig.LayoutFields);
        HeaderLayout.AssertMatchesC<VerdictEntry>("response.h", "snt_verdict", VerdictEntry.LayoutFields);
        HeaderLayout.AssertMatchesC<RawResponseEvent>("response.h", "snt_resp_event", RawResponseEvent.LayoutFields);
    }

    [Fact]
    public void A_policy_checks_only_the_fields_it_sets()
    {
        var e = PolicyCompiler.Compile(new KernelPolicy { Flags = MoveFlags.MoveAll, Uid = 65534, Lacks = Capability.SysNice, Comm = "stepper64" },
            ResponseAction.Signal(19), 3);

        Assert.Equal(PolicyField.Flags | PolicyField.Uid | PolicyField.CapsLacking | PolicyField.Comm, (PolicyField)e.Fields);
        Assert.Equal(4u, e.FlagsAll);
        Assert.Equal(65534u, e.Uid);
        Assert.Equal(1UL << 23, e.Caps);
        Assert.Equal((uint)ResponseKind.Signal, e.Action);
        Assert.Equal(19u, e.Signal);
        Assert.Equal(3u, e.Rule);
        Assert.Equal((byte)'s', e.Comm[0]);
        Assert.Equal(0, e.Comm[9]);
        Assert.Equal(0u, PolicyCompiler.Compile(new KernelPolicy(), ResponseAction.Kill, 0).Fields);
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
