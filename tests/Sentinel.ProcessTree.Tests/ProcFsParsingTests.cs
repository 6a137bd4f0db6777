using System.Text;
using Sentinel.ProcessTree;

namespace Sentinel.ProcessTree.Tests;

public class ProcFsParsingTests
{
    [Fact]
    public void Stat_comm_may_hold_spaces_and_parentheses()
    {
        var fields = string.Join(' ', Enumerable.Range(5, 40)); // fields 5.. are their own index
        var stat = $"4242 (evil) (name x) S 17 {fields}\n";
        Assert.True(ProcFs.TryParseStat(stat, out var comm, out var ppid, out var start));
        Assert.Equal("evil) (name x", comm.ToString());
        Assert.Equal(17, ppid);
        Assert.Equal(22UL * BootClock.NsPerTick, start); // field 22 is starttime, in ticks
    }

    [Fact]
    public void Stat_that_is_cut_short_is_rejected()
    {
        Assert.False(ProcFs.TryParseStat("12 (x) S 1 2 3", out _, out _, out _));
        Assert.False(ProcFs.TryParseStat("garbage", out _, out _, out _));
    }

    [Fact]
    public void Args_split_on_nul_and_are_bounded()
    {
        var bytes = Encoding.UTF8.GetBytes("sh\0-c\0echo hi\0");
        Assert.Equal(["sh", "-c", "echo hi"], ProcFs.SplitArgs(bytes, 16));
        Assert.Equal(["sh", "-c"], ProcFs.SplitArgs(bytes, 2));
        Assert.Empty(ProcFs.SplitArgs([], 16));
    }

    [Fact]
    public void Start_times_from_probes_and_proc_agree()
    {
        // /proc reports ticks; the probe reports ns. Both must give one identity.
        const ulong ticks = 123_456;
        var fromProc = ticks * BootClock.NsPerTick;
        var fromProbe = ticks * BootClock.NsPerTick + 7_654_321;
        Assert.Equal(fromProc, BootClock.NormalizeStart(fromProbe));
    }
}
