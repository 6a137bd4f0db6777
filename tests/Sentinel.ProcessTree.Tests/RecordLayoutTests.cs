using Sentinel.ProcessTree;
using Sentinel.TestSupport;

namespace Sentinel.ProcessTree.Tests;

/// <summary>ProcTreeRecord, generated from struct snt_proc_event, must match it byte for byte: compile the header and compare.</summary>
public class RecordLayoutTests
{
    [Fact]
    public void Matches_the_C_header() =>
        HeaderLayout.AssertMatchesC<ProcTreeRecord>("proctree.h", "snt_proc_event", ProcTreeRecord.LayoutFields);
}
