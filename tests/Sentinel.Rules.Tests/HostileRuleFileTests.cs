using System.Diagnostics;
using Sentinel.Rules.Compilation;

namespace Sentinel.Rules.Tests;

/// <summary>
/// What someone who can write to the rules directory can drop there that is not a rule: a FIFO, a link to
/// /dev/zero, a huge file. Each is one error for its own file; the rest of the pack loads, and a reload ends.
/// </summary>
public sealed class HostileRuleFileTests
{
    private static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start("mkfifo", path);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    private static RuleDirectory WithOneGoodRule()
    {
        var dir = new RuleDirectory();
        dir.Write("good.csx", TestRules.Rule("SNT-9001", """findings.Add("seen");"""));
        return dir;
    }

    [Fact]
    public void A_fifo_a_link_to_dev_zero_and_a_huge_file_are_each_one_error_and_the_good_rule_loads()
    {
        using var dir = WithOneGoodRule();
        MakeFifo(Path.Combine(dir.Path, "fifo.csx"));
        File.CreateSymbolicLink(Path.Combine(dir.Path, "zero.csx"), "/dev/zero");
        File.WriteAllText(Path.Combine(dir.Path, "huge.csx"), "// " + new string('x', RuleFileText.MaxBytes));

        var load = Task.Run(() => TestRules.Load(dir.Path));
        Assert.True(load.Wait(TimeSpan.FromMinutes(2)), "loading a directory holding a FIFO did not end");
        using var engine = load.Result;

        Assert.Equal(["SNT-9001"], engine.Rules.Select(r => r.Id));
        var errors = engine.Diagnostics.Where(d => d.IsError).ToDictionary(d => Path.GetFileName(d.File), d => d.Message);
        Assert.Contains("declares no rule", errors["fifo.csx"]);
        Assert.Contains("larger than 4 MiB", errors["zero.csx"]);
        Assert.Contains("larger than 4 MiB", errors["huge.csx"]);
    }

    [Fact]
    public void A_fifo_dropped_into_a_running_pack_does_not_stop_the_reload_or_the_ones_after_it()
    {
        using var dir = WithOneGoodRule();
        using var engine = TestRules.Load(dir.Path);
        MakeFifo(Path.Combine(dir.Path, "fifo.csx"));

        var reload = Task.Run(engine.Reload);
        Assert.True(reload.Wait(TimeSpan.FromMinutes(2)), "a reload with a FIFO in the directory did not end");
        dir.Write("second.csx", TestRules.Rule("SNT-9002", """findings.Add("also");"""));
        var next = Task.Run(engine.Reload);
        Assert.True(next.Wait(TimeSpan.FromMinutes(2)), "the reload after it did not end");

        Assert.Equal(["SNT-9002"], next.Result.Added);
        var sink = new ListSink();
        engine.Evaluate(TestRules.Event(), sink);
        Assert.Equal(["seen", "also"], sink.Detections.Select(d => d.Message));
    }

    [Fact]
    public void Rule_text_is_read_whole_below_the_limit_and_refused_above_it()
    {
        using var dir = new RuleDirectory();
        var file = Path.Combine(dir.Path, "big.csx");
        File.WriteAllText(file, "\uFEFF" + new string('a', RuleFileText.MaxBytes - 3));
        Assert.Equal(RuleFileText.MaxBytes - 3, RuleFileText.Read(file).Length); // the BOM is not text

        File.WriteAllText(file, new string('a', RuleFileText.MaxBytes + 1));
        Assert.Contains("larger than 4 MiB", Assert.Throws<IOException>(() => RuleFileText.Read(file)).Message);
        Assert.Throws<FileNotFoundException>(() => RuleFileText.Read(Path.Combine(dir.Path, "missing.csx")));
    }
}
