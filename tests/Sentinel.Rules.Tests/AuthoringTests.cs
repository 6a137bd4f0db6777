using Sentinel.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Rules.Compilation;
using Sentinel.Rules.Testing;

namespace Sentinel.Rules.Tests;

/// <summary>The concise script form, and lint reporting what the loader refuses at the line that causes it.</summary>
public sealed class AuthoringTests
{
    internal static string Concise(string id, string match, string state = "", string tactic = "TA0007") => $$"""
        using static Sentinel.Rules.RuleScript;

        Define(new RuleInfo
        {
            Id = "{{id}}", Version = "1.0.0", Name = "concise {{id}}", Description = "a concise test rule",
            Severity = Severity.Low, MitreTactics = ["{{tactic}}"], MitreTechniques = ["T1057"], Events = ["move_pages"],
        });
        {{state}}
        Match((e, findings) =>
        {
            {{match}}
        });
        """;

    [Fact]
    public void A_concise_script_runs_its_top_level_code_once_and_its_match_per_event()
    {
        using var dir = new RuleDirectory();
        dir.Write("c.csx", Concise("SNT-9001", "if (++calls % 2 == 0) findings.Add($\"call {calls} of {Parameters_threshold}\");",
            "var calls = 0;\nvar Parameters_threshold = Parameters.GetInt(\"threshold\", 7);"));
        using var engine = TestRules.Load(dir.Path, TestRules.Options() with
        {
            Parameters = new Dictionary<string, string> { ["SNT-9001.threshold"] = "3" },
        });
        var sink = new ListSink();

        for (var i = 0; i < 4; i++) engine.Evaluate(TestRules.Event(), sink);

        Assert.Empty(engine.Diagnostics);
        Assert.Equal("SNT-9001", Assert.Single(engine.Rules).Id);
        // State lives in the script's variables; the parameter was read by the top-level code.
        Assert.Equal(["call 2 of 3", "call 4 of 3"], sink.Detections.Select(d => d.Message));
    }

    [Fact]
    public void Both_forms_get_the_same_sandbox()
    {
        var concise = TestRules.Compile(Concise("SNT-9001", "System.IO.File.Delete(\"/x\");"));
        var classic = TestRules.Compile(TestRules.Rule("SNT-9001", "System.IO.File.Delete(\"/x\");"));

        Assert.Equal(RuleDiagnosticCodes.ForbiddenSymbol, Assert.Single(concise.Diagnostics).Code);
        Assert.Equal(Assert.Single(classic.Diagnostics).Message, concise.Diagnostics[0].Message);
    }

    [Fact]
    public void A_concise_script_loop_is_bounded_by_the_budget()
    {
        using var dir = new RuleDirectory();
        dir.Write("c.csx", Concise("SNT-9001", "while (true) { }"));
        using var engine = TestRules.Load(dir.Path);

        engine.Evaluate(TestRules.Event(), new ListSink());

        var status = Assert.Single(engine.Status());
        Assert.True(status.Quarantined, "the runaway script rule must be quarantined");
    }

    [Fact]
    public void A_concise_script_without_Match_is_refused_at_compile_time()
    {
        var source = Concise("SNT-9001", "");
        var result = TestRules.Compile(source[..source.IndexOf("Match((e", StringComparison.Ordinal)] + "var unused = 1;\n");

        Assert.Contains(result.Diagnostics, d => d.Code == RuleDiagnosticCodes.InvalidRule && d.Message.Contains("never calls Match"));
    }

    [Fact]
    public void Scripts_cannot_reference_or_load_files()
    {
        var reference = TestRules.Compile("#r \"System.Net.Sockets.dll\"\n" + Concise("SNT-9001", ""));
        var load = TestRules.Compile("#load \"/etc/passwd\"\n" + Concise("SNT-9001", ""));

        Assert.Equal(("SNT1002", 1, 1), (reference.Diagnostics[0].Code, reference.Diagnostics[0].Line, reference.Diagnostics[0].Column));
        Assert.DoesNotContain(reference.Diagnostics, d => d.Code.StartsWith("CS"));
        Assert.Equal(("SNT1002", 1), (load.Diagnostics[0].Code, load.Diagnostics[0].Line));
        Assert.False(reference.Succeeded || load.Succeeded);
    }

    [Fact]
    public void Metadata_errors_point_at_the_value()
    {
        var source = TestRules.Rule("SNT-9001", "").Replace("\"TA0007\"", "\"TA0099\"").Replace("\"T1057\"", "\"T9999\"");
        var lines = source.Split('\n');

        var result = TestRules.Compile(source);

        var tactic = Assert.Single(result.Diagnostics, d => d.Message.Contains("TA0099"));
        var technique = Assert.Single(result.Diagnostics, d => d.Message.Contains("T9999"));
        var line = Array.FindIndex(lines, l => l.Contains("TA0099")) + 1;
        Assert.Equal((line, lines[line - 1].IndexOf("\"TA0099\"") + 1), (tactic.Line, tactic.Column));
        Assert.Equal((line, lines[line - 1].IndexOf("\"T9999\"") + 1), (technique.Line, technique.Column));
        Assert.Contains("not an ATT&CK Enterprise tactic", tactic.Message);
    }

    [Fact]
    public void Bad_id_and_severity_are_reported_where_they_are_written()
    {
        var source = TestRules.Rule("SNT-91", "").Replace("Severity.Low", "(Severity)42");
        var result = TestRules.Compile(source);
        var lines = source.Split('\n');
        var idLine = Array.FindIndex(lines, l => l.Contains("\"SNT-91\"")) + 1;

        var id = Assert.Single(result.Diagnostics, d => d.Message.Contains("must look like SNT-0001"));
        Assert.Equal((idLine, lines[idLine - 1].IndexOf("\"SNT-91\"") + 1), (id.Line, id.Column));
        Assert.Contains(result.Diagnostics, d => d.Message.Contains("severity must be") && d.Line == idLine + 1);
    }

    [Fact]
    public void Lint_reports_a_duplicate_id_at_the_second_declaration()
    {
        using var dir = new RuleDirectory();
        var first = dir.Write("a.csx", TestRules.Rule("SNT-9001", ""));
        var second = dir.Write("b.csx", Concise("SNT-9001", ""));
        var line = Array.FindIndex(File.ReadAllLines(second), l => l.Contains("\"SNT-9001\"")) + 1;

        var diagnostics = RuleLinter.Lint([first, second], TestRules.Options());

        var duplicate = Assert.Single(diagnostics);
        Assert.Equal((second, line, RuleDiagnosticCodes.InvalidRule), (duplicate.File, duplicate.Line, duplicate.Code));
        Assert.Contains($"duplicate rule id SNT-9001 (also declared in {first})", duplicate.Message);
    }

    [Theory]
    [InlineData("var c = e.Comand;", "'MovePagesEvent' does not contain a definition for 'Comand'; did you mean 'Comm'?")]
    [InlineData("var s = Severity.Hihg;", "'Severity' does not contain a definition for 'Hihg'; did you mean 'High'?")]
    [InlineData("var p = e.Enrichment.Caler;", "did you mean 'Caller'?")]
    [InlineData("var x = findngs.Count;", "the name 'findngs' does not exist here; did you mean 'findings'?")]
    public void Unknown_members_get_a_did_you_mean_and_no_assembly_hint(string code, string expected)
    {
        var result = TestRules.Compile(TestRules.Rule("SNT-9001", code));

        var error = Assert.Single(result.Diagnostics, d => d.IsError);
        Assert.True(error.Message.Contains(expected, StringComparison.Ordinal), error.Message);
        Assert.DoesNotContain("assembly reference", error.Message);
    }

    [Theory]
    [InlineData("var pids = new List<int> { e.Pid };\n        findings.Add(pids[e.Pid].ToString());", "pids[e.Pid]", "ArgumentOutOfRangeException")]
    // A Match this small is one the runtime would inline into the engine's dispatch, where it has no frame.
    [InlineData("if (100 / (e.Pid - 100) > 0) return;", "100 / (e.Pid", "DivideByZeroException")]
    public void A_runtime_exception_names_the_rule_line(string body, string thrower, string exception)
    {
        using var dir = new RuleDirectory();
        var source = TestRules.Rule("SNT-9001", body);
        var file = dir.Write("r.csx", source);
        var line = Array.FindIndex(source.Split('\n'), l => l.Contains(thrower)) + 1;
        using var engine = TestRules.Load(dir.Path);

        // Enough events for the runtime to compile the rule's callers fully optimized.
        for (var i = 0; i < 200; i++) engine.Evaluate(TestRules.Event(pid: 100 + i % 2), new ListSink());

        var error = engine.Status()[0].LastError!;
        Assert.True(error.StartsWith(exception, StringComparison.Ordinal) && error.Contains($"(at {file}:{line}:"), error);
    }

    [Fact]
    public void The_builtin_pack_shows_both_forms()
    {
        var sources = Directory.GetFiles(RepoPaths.Rules, "*.csx").Select(File.ReadAllText).ToList();

        Assert.Contains(sources, s => s.Contains("using static Sentinel.Rules.RuleScript;") && s.Contains("Match((e, findings)"));
        Assert.Contains(sources, s => s.Contains(": Rule"));
    }

    [Fact]
    public void A_concise_rule_unloads_with_its_context()
    {
        using var dir = new RuleDirectory();
        var file = dir.Write("c.csx", Concise("SNT-9001", "findings.Add(\"x\");", "var seen = new HashSet<int>();"));
        var reference = LoadAndUnload(file);

        for (var i = 0; i < 20 && reference.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(reference.IsAlive, "the script rule's load context was not collected");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference LoadAndUnload(string file)
    {
        var factory = new RuleFactory(TestRules.Options(), FixtureRunner.FixtureHost, NullLogger.Instance);
        var slot = factory.Load(factory.Compile(file), [])!;
        var findings = new Findings();
        slot.Live!.Match(TestRules.Event(), findings);
        Assert.Equal(1, findings.Count);
        var reference = slot.Loaded.ContextReference();
        slot.Unload();
        return reference;
    }

    [Fact]
    public void Windowed_aggregates_sum_count_distinct_values_and_give_rates()
    {
        const long s = 1_000_000_000;
        var sum = new SlidingSum<int>(TimeSpan.FromSeconds(60));
        var distinct = new SlidingDistinct<int, int>(TimeSpan.FromSeconds(10), maxValuesPerKey: 3);

        Assert.Equal(600, sum.Add(1, 0, 600));
        Assert.Equal(1100, sum.Add(1, 30 * s, 500));
        Assert.Equal(7, sum.Add(2, 30 * s, 7));
        Assert.Equal(500, sum.Sum(1, 61 * s)); // the first value left the window
        Assert.Equal(500 / 60.0, sum.Rate(1, 61 * s), 6);
        Assert.Equal(1, distinct.Add(1, 10, 0));
        Assert.Equal(1, distinct.Add(1, 10, 1 * s));
        Assert.Equal(2, distinct.Add(1, 11, 2 * s));
        Assert.Equal(3, distinct.Add(1, 12, 3 * s));
        Assert.Equal(3, distinct.Add(1, 13, 4 * s)); // bounded: the least recently seen value went
        Assert.Equal(2, distinct.Count(1, 12 * s + 1)); // 10 and 11 expired; 12 and 13 remain
    }

    [Fact]
    public void A_rule_sums_queried_pages_per_process_over_a_window()
    {
        using var dir = new RuleDirectory();
        dir.Write("sum.csx", Concise("SNT-9001",
            "if (pages.Add(e.Pid, e.TimeUnixNs, e.Count) > 1000) findings.Add($\"{e.Pid} queried over 1000 pages\");",
            "var pages = new SlidingSum<int>(TimeSpan.FromSeconds(60));"));
        using var engine = TestRules.Load(dir.Path);
        var sink = new ListSink();

        foreach (var t in (int[])[0, 20, 40])
        {
            var evt = TestRules.Event(timeSeconds: t);
            evt.Count = 400;
            engine.Evaluate(evt, sink);
        }

        Assert.Empty(engine.Diagnostics);
        Assert.Equal("100 queried over 1000 pages", Assert.Single(sink.Detections).Message);
    }

    [Fact]
    public void The_builtin_rules_directory_ships_the_project_rules_init_writes()
    {
        const string home = "$(MSBuildThisFileDirectory)../src/Sentinel.Cli/bin/Release/net10.0";
        foreach (var (name, content) in RuleProject.Files(home))
            Assert.Equal(content, File.ReadAllText(Path.Combine(RepoPaths.Rules, name)));
    }

    [Fact]
    public void Init_writes_the_editor_project_and_keeps_existing_files()
    {
        using var dir = new RuleDirectory();
        File.WriteAllText(Path.Combine(dir.Path, RuleProject.GlobalUsingsFile), "// mine");

        var result = RuleProject.Init(dir.Path, "/opt/sentinel");

        Assert.Equal([Path.Combine(dir.Path, RuleProject.ProjectFile)], result.Written);
        Assert.Equal("// mine", File.ReadAllText(Path.Combine(dir.Path, RuleProject.GlobalUsingsFile)));
        var project = File.ReadAllText(result.Written[0]);
        Assert.Contains("/opt/sentinel</SentinelHome>", project);
        Assert.Contains("<Analyzer Include=\"$(SentinelHome)/Sentinel.Rules.Analyzers.dll\" />", project);
    }

    /// <summary>Regenerate with SENTINEL_WRITE_DOCS=1 dotnet test tests/Sentinel.Rules.Tests --filter ApiReference.</summary>
    [Fact]
    public void The_rules_doc_carries_the_generated_api_reference()
    {
        var path = Path.Combine(RepoPaths.Root, "docs", "RULES.md");
        var doc = File.ReadAllText(path);
        var (start, end) = (doc.IndexOf(RuleApiReference.Begin, StringComparison.Ordinal), doc.IndexOf(RuleApiReference.End, StringComparison.Ordinal));
        Assert.True(start >= 0 && end > start, "docs/RULES.md has no api-reference markers");
        var current = doc[start..(end + RuleApiReference.End.Length)] + "\n";
        var generated = RuleApiReference.Markdown();
        if (Environment.GetEnvironmentVariable("SENTINEL_WRITE_DOCS") == "1" && current != generated)
            File.WriteAllText(path, doc[..start] + generated + doc[(end + RuleApiReference.End.Length + 1)..]);
        else
            Assert.Equal(generated, current);
        Assert.Contains("| `string Comm` | The caller's command name", generated);
    }
}
