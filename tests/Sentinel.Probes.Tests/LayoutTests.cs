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
