using Sentinel.Events;

namespace Sentinel.Formats.Tests;

public sealed class PrettyTests
{
    private static string Format(Detection d, bool color = false) =>
        new PrettyDetectionFormatter(color, uid => uid == 1000 ? "alice" : null).Format(d with { Host = Environment.MachineName });

    private static Detection Enriched()
    {
        var d = Samples.Detection();
        d.Event.Enrichment.AncestryBuffer.Add(new ProcessInfo { Pid = 900, StartTimeNs = 10, Comm = "sshd" });
        return d;
    }

    [Fact]
    public void Header_has_sequence_time_severity_and_rule()
    {
        var first = Format(Enriched()).Split('\n')[0];
        Assert.Equal("#42  2025-10-09 08:53:20.123Z  HIGH  SNT-0002 MOVE_ALL probing", first);
    }

    [Fact]
    public void Who_names_the_user_process_executable_container_and_parent_chain()
    {
        var who = Line(Format(Enriched()), "who");
        Assert.Equal("uid 1000 (alice)  exploit[4242] tid 4243  /tmp/exploit  container abc123  ← bash[4000] ← sshd[900]", who);
    }

    [Fact]
    public void What_names_target_flags_size_and_result()
    {
        var what = Line(Format(Enriched()), "what");
        Assert.Equal("target systemd[1] uid 0  MOVE_ALL  8 pages  → EPERM (-1)", what);
    }

    [Fact]
    public void Without_enrichment_it_falls_back_to_what_the_probe_saw()
    {
        var text = Format(Samples.Detection(enriched: false, sequence: 0));
        Assert.StartsWith("2025-10-09 08:53:20.123Z  HIGH", text); // no sequence before the journal numbers it
        Assert.Equal("uid 1000 (alice)  exploit[4242] tid 4243  ← ppid 4000", Line(text, "who"));
        Assert.Equal("target pid 1  MOVE_ALL  8 pages  → EPERM (-1)", Line(text, "what"));
    }

    [Fact]
    public void No_empty_fields_and_no_true_false_noise()
    {
        var d = Enriched() with
        {
            Fields = new Dictionary<string, string>
            {
                ["target_comm"] = "", ["cross_user"] = "True", ["in_container"] = "False", ["why"] = "layout probe", ["result"] = "EPERM",
            },
        };
        var text = Format(d);
        Assert.Equal("cross_user  why=\"layout probe\"", Line(text, "also"));
        Assert.DoesNotContain("=\n", text + "\n");
        Assert.DoesNotMatch(@"=(\s|$)", text);
        Assert.DoesNotContain("True", text);
        Assert.DoesNotContain("False", text);
    }

    [Fact]
    public void Query_mode_self_calls_and_partial_moves_read_as_words()
    {
        var d = Samples.Detection(enriched: false);
        d.Event.TargetPid = 0; d.Event.NodesAddress = 0; d.Event.Flags = 2 | 8; d.Event.ReturnValue = 3; d.Event.Compat = true;
        var text = Format(d);
        Assert.Equal("self  MOVE|flags 0x8  8 pages  query  → 3 not moved", Line(text, "what"));
        Assert.Contains("32-bit", Line(text, "who"));
    }

    [Fact]
    public void A_fold_summary_says_how_many_and_when()
    {
        var d = Samples.Detection() with
        {
            FoldCount = 8, FirstTime = DateTimeOffset.Parse("2025-10-09T08:53:21.5Z"), LastTime = DateTimeOffset.Parse("2025-10-09T08:53:29.001Z"),
        };
        Assert.Equal("×8 repeats  08:53:21.500 → 08:53:29.001", Line(Format(d), "fold"));
        Assert.DoesNotContain("fold", Format(Samples.Detection()));
    }

    [Fact]
    public void Another_host_is_named_and_its_uids_are_not_resolved_here()
    {
        var text = new PrettyDetectionFormatter(false, _ => "local-name").Format(Samples.Detection());
        Assert.EndsWith("  on numa-01", text.Split('\n')[0]);
        Assert.StartsWith("uid 1000  ", Line(text, "who"));
    }

    [Fact]
    public void Severity_is_coloured_only_when_asked()
    {
        Assert.DoesNotContain('\u001b', Format(Enriched()));
        var coloured = Format(Enriched(), color: true).Split('\n')[0];
        Assert.Equal("#42  2025-10-09 08:53:20.123Z  \u001b[1;31mHIGH\u001b[0m  SNT-0002 MOVE_ALL probing", coloured);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(Format(Enriched(), color: true), "\u001b\\[0m"));
    }

    [Theory]
    [InlineData(false, null, "xterm-256color", true)]
    [InlineData(true, null, "xterm-256color", false)]   // piped or redirected
    [InlineData(false, "1", "xterm-256color", false)]   // NO_COLOR set
    [InlineData(false, "", "xterm-256color", true)]     // NO_COLOR empty counts as unset (no-color.org)
    [InlineData(false, null, "dumb", false)]
    public void Colour_follows_the_terminal_and_no_color(bool redirected, string? noColor, string? term, bool expected) =>
        Assert.Equal(expected, PrettyDetectionFormatter.ShouldColor(redirected, noColor, term));

    private static string Line(string text, string label) =>
        text.Split('\n').Select(l => l.TrimStart()).Single(l => l.StartsWith(label + "  ", StringComparison.Ordinal))[(label.Length + 2)..].TrimStart();
}
