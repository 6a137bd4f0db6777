using Sentinel.Events;
using Sentinel.Rules.Runtime;
using Sentinel.TestSupport;

namespace Sentinel.Rules.Tests;

/// <summary>
/// Rules skipped on events their leading guard returns on: the skip must hold only where the guard certainly
/// returns, so detections are exactly those of calling every rule.
/// </summary>
public sealed class PrefilterTests
{
    [Fact]
    public void The_pack_rules_with_a_leading_guard_get_a_prefilter_and_the_others_none()
    {
        using var engine = TestRules.Load(RepoPaths.Rules);
        var prefilters = engine.ActiveSlots.ToDictionary(s => s.Info.Id, s => s.Prefilter);

        Assert.Equal(new RulePrefilter(EventFeatures.Self, EventFeatures.Self, 0, 1), prefilters["SNT-0001"]);
        Assert.Equal(new RulePrefilter(EventFeatures.FlagMoveAll, 0, 0, 1), prefilters["SNT-0002"]);
        Assert.Equal(new RulePrefilter(EventFeatures.QueryMode, 0, EventFeatures.Self, EventFeatures.Self), prefilters["SNT-0003"]);
        Assert.Equal(new RulePrefilter(EventFeatures.Toctou, 0, 0, 1), prefilters["SNT-0004"]);
        var scan = EventFeatures.Errno(Errno.EPERM) | EventFeatures.Errno(Errno.ESRCH);
        Assert.Equal(new RulePrefilter(scan, 0, 0, 1), prefilters["SNT-0005"]);
        Assert.Equal(new RulePrefilter(EventFeatures.Compat, 0, 0, 1), prefilters["SNT-0007"]); // the concise form's lambda
        Assert.Equal(RulePrefilter.None, prefilters["SNT-0006"]);
        Assert.Equal(RulePrefilter.None, prefilters["SNT-0008"]);
    }

    [Fact]
    public void A_skipped_rule_would_have_found_nothing_on_any_combination_of_the_facts()
    {
        using var engine = TestRules.Load(RepoPaths.Rules);
        var findings = new Findings();
        var skipped = 0;
        foreach (var evt in Combinations())
        {
            var features = EventFeatures.Of(evt);
            foreach (var slot in engine.ActiveSlots.Where(s => s.Prefilter.Skips(features)))
            {
                skipped++;
                slot.Live!.Match(evt, findings);
                Assert.True(findings.Count == 0, $"{slot.Info.Id} skipped but found: {string.Join("; ", findings.Items.Select(f => f.Message))}");
            }
        }
        Assert.True(skipped > 1000, $"only {skipped} skips");
    }

    [Theory]
    [InlineData("if (Seen() || e.IsSelf) return;", "bool Seen() { _n++; return false; } private int _n;")]
    [InlineData("if (e.Enrichment.Target!.Uid == 0 || e.IsSelf) return;", "")]
    [InlineData("_n++; if (e.IsSelf) return;", "private int _n;")]
    [InlineData("if (e.IsSelf) findings.Add(\"x\"); if (e.Compat) return;", "")]
    [InlineData("if (e.Comm == \"x\" && e.IsSelf) return;", "")]
    public void A_guard_with_an_effect_or_that_may_throw_before_the_facts_gives_no_prefilter(string match, string members)
    {
        using var rules = new RuleDirectory();
        rules.Write("r.csx", TestRules.Rule("SNT-0950", match + " findings.Add(\"hit\");", members));
        using var engine = TestRules.Load(rules.Path);

        Assert.Empty(engine.Diagnostics);
        var prefilter = Assert.Single(engine.ActiveSlots).Prefilter;
        // The last case reads Comm, which is no fact: the && term cannot be known, so nothing is skipped either.
        Assert.Equal(RulePrefilter.None, prefilter);
    }

    [Fact]
    public void Pure_guards_in_sequence_combine_and_the_engine_gives_the_same_detections_as_calling_the_rule()
    {
        using var rules = new RuleDirectory();
        rules.Write("r.csx", TestRules.Rule("SNT-0951", """
            if (!e.Compat) return;
            if (e.Errno != Errno.ESRCH && !(e.HasFlag(MoveFlags.MoveAll) && _armed)) return;
            findings.Add("hit");
            """, "private bool _armed = true;"));
        using var engine = TestRules.Load(rules.Path);
        var slot = Assert.Single(engine.ActiveSlots);
        Assert.Equal(new RulePrefilter(EventFeatures.Compat, 0, EventFeatures.Errno(Errno.ESRCH) | EventFeatures.FlagMoveAll, 0), slot.Prefilter);

        var sink = new ListSink();
        var expected = 0;
        foreach (var evt in Combinations())
        {
            if (evt.Compat && (evt.Errno == Errno.ESRCH || evt.HasFlag(MoveFlags.MoveAll))) expected++;
            engine.Evaluate(evt, sink);
        }
        Assert.Equal(expected, sink.Detections.Count);
        Assert.True(expected > 0);
    }

    /// <summary>Every combination of the facts a prefilter reads, with errnos on both sides of the bits.</summary>
    private static IEnumerable<MovePagesEvent> Combinations()
    {
        long[] returns = [0, 3, -Errno.EPERM, -Errno.ESRCH, -Errno.EACCES, -Errno.ENODEV, -Errno.EINVAL, -200];
        var time = 0L;
        foreach (var ret in returns)
        foreach (var target in new[] { 0, 100, 200 })
        foreach (var flags in new[] { 0, (int)MoveFlags.Move, (int)MoveFlags.MoveAll, 6 })
        for (var bits = 0; bits < 16; bits++)
        {
            var evt = TestRules.Event(pid: 100, target: target, ret: ret, flags: flags, timeSeconds: time++);
            evt.Compat = (bits & 1) != 0;
            if ((bits & 2) != 0) evt.NodesAddress = 0;
            if ((bits & 4) != 0) evt.PagesChangedMask = 1;
            if ((bits & 8) != 0) (evt.FoldCount, evt.FoldFirstUnixNs, evt.FoldLastUnixNs) = (7, evt.TimeUnixNs - 1000, evt.TimeUnixNs);
            yield return evt;
        }
    }
}
