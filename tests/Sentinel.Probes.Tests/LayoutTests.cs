using Sentinel.Probes;
using Sentinel.TestSupport;

namespace Sentinel.Probes.Tests;

/// <summary>The mirrors generated from bpf/sentinel.h must match it exactly; the C compiler is the judge.</summary>
public class LayoutTests
{
    [Fact]
    public void Every_field_offset_and_the_size_match_the_c_header()
    {
        HeaderLayout.AssertMatchesC<RawMovePagesEvent>("sentinel.h", "snt_move_pages_event", RawMovePagesEvent.LayoutFields);
        HeaderLayout.AssertMatchesC<RawMovePagesCall>("sentinel.h", "snt_call", RawMovePagesCall.LayoutFields);
        Assert.Equal(632, MovePagesDecoder.RecordSize);
    }
}

/// <summary>Sentinel.Events cannot see the generated header, so its copy of enum snt_copy_flags is tied to it here.</summary>
public class CopyFlagsTests
{
    [Fact]
    public void Every_copy_flag_of_the_events_is_the_header_s_bit()
    {
        Assert.Equal((int)ProbeHeader.CopyFlags.PagesEntry, (int)Sentinel.Events.CopyFlags.PagesAtEntry);
        Assert.Equal((int)ProbeHeader.CopyFlags.NodesEntry, (int)Sentinel.Events.CopyFlags.NodesAtEntry);
        Assert.Equal((int)ProbeHeader.CopyFlags.PagesExit, (int)Sentinel.Events.CopyFlags.PagesAtExit);
        Assert.Equal((int)ProbeHeader.CopyFlags.NodesExit, (int)Sentinel.Events.CopyFlags.NodesAtExit);
        Assert.Equal((int)ProbeHeader.CopyFlags.StatusExit, (int)Sentinel.Events.CopyFlags.StatusAtExit);
        // Both enums name every bit: a flag added to one side only fails here.
        Assert.Equal(Enum.GetValues<ProbeHeader.CopyFlags>().Length, Enum.GetValues<Sentinel.Events.CopyFlags>().Count(f => f != 0));
    }
}
