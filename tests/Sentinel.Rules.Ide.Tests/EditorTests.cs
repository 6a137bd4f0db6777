using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.MSBuild;
using Sentinel.Rules.Compilation;
using Sentinel.TestSupport;

namespace Sentinel.Rules.Ide.Tests;

/// <summary>
/// A rules directory set up by `rules init`, opened the way an editor opens it (MSBuildWorkspace, a design-time
/// build of the generated project) and built with `dotnet build`, compared with what `rules lint` says.
/// </summary>
public sealed class EditorTests : IAsyncLifetime
{
    private const string Forbidden = "System.IO.File.Delete(\"/etc/passwd\");";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sentinel-ide-" + Guid.NewGuid().ToString("N"));
    private string _evil = "";
    private string _concise = "";
    private string _badMetadata = "";
    private string _unknownEvent = "";

    public Task InitializeAsync()
    {
        RuleProject.Init(_dir, AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        foreach (var rule in Directory.GetFiles(RepoPaths.Rules, "*.csx"))
            File.Copy(rule, Path.Combine(_dir, Path.GetFileName(rule)));
        _evil = Path.Combine(_dir, "evil.csx");
        File.WriteAllText(_evil, File.ReadAllText(Path.Combine(RepoPaths.Rules, "snt-0001-cross-process-migration.csx"))
            .Replace("\"SNT-0001\"", "\"SNT-0901\"")
            .Replace("if (e.IsSelf) return;", "if (e.IsSelf) return;\n        " + Forbidden + "\n        var pid = e.Pid;"));
        // A second concise rule: each rule is its own compilation, as in the agent.
        _concise = Path.Combine(_dir, "second-concise.csx");
        File.WriteAllText(_concise, File.ReadAllText(Path.Combine(RepoPaths.Rules, "snt-0007-compat-syscall.csx"))
            .Replace("\"SNT-0007\"", "\"SNT-0907\""));
        // Metadata the loader refuses: SNT1004 on the literal, from the same analyzer in the editor, build and lint.
        _badMetadata = Path.Combine(_dir, "bad-metadata.csx");
        File.WriteAllText(_badMetadata, File.ReadAllText(Path.Combine(RepoPaths.Rules, "snt-0002-move-all-without-cap-sys-nice.csx"))
            .Replace("\"SNT-0002\"", "\"SNT-0902\"").Replace("\"TA0004\"", "\"TA9999\""));
        // An event the agent's catalog does not have: the editor knows the catalog from the rule API it references.
        _unknownEvent = Path.Combine(_dir, "unknown-event.csx");
        File.WriteAllText(_unknownEvent, File.ReadAllText(Path.Combine(RepoPaths.Rules, "snt-0002-move-all-without-cap-sys-nice.csx"))
            .Replace("\"SNT-0002\"", "\"SNT-0903\"").Replace("Events = [\"move_pages\"]", "Events = [\"move_page\"]"));
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_editor_sees_the_rule_api_with_docs_and_the_sandbox_diagnostics_of_lint()
    {
        using var workspace = MSBuildWorkspace.Create();
        var project = await workspace.OpenProjectAsync(Path.Combine(_dir, RuleProject.ProjectFile));
        Assert.Empty(workspace.Diagnostics.Where(d => d.Kind == WorkspaceDiagnosticKind.Failure));
        var document = project.Documents.Single(d => d.FilePath == _evil);
        var model = (await document.GetSemanticModelAsync())!;
        var text = (await document.GetTextAsync()).ToString();

        // Completion after `e.`: the members of the event, with their XML docs.
        var position = text.IndexOf("var pid = e.", StringComparison.Ordinal) + "var pid = e.".Length;
        var eventType = model.Compilation.GetTypeByMetadataName("Sentinel.Events.MovePagesEvent")!;
        var members = model.LookupSymbols(position, container: eventType).Select(s => s.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "Pid", "Comm", "TargetPid", "IsSelf", "Enrichment", "Errno" }, members);
        Assert.False(string.IsNullOrWhiteSpace(eventType.GetMembers("Comm").Single().GetDocumentationCommentXml()),
            "MovePagesEvent.Comm has no XML docs in the editor");
        Assert.Contains("RuleScript", model.Compilation.GetTypeByMetadataName("Sentinel.Rules.RuleScript")!.Name);

        // The analyzer the project loads reports what lint reports, at the same place.
        var analyzers = project.AnalyzerReferences.SelectMany(r => r.GetAnalyzers(LanguageNames.CSharp)).ToList();
        Assert.NotEmpty(analyzers);
        var compilation = (await project.GetCompilationAsync())!;
        var editor = (await compilation.WithAnalyzers([.. analyzers]).GetAnalyzerDiagnosticsAsync())
            .Where(d => d.Location.SourceTree?.FilePath == _evil && d.Id.StartsWith("SNT", StringComparison.Ordinal))
            .Select(d => (d.Id, Line: d.Location.GetLineSpan().StartLinePosition.Line + 1, Column: d.Location.GetLineSpan().StartLinePosition.Character + 1))
            .ToList();
        var lint = RuleLinter.Lint(_evil).Where(d => d.Code.StartsWith("SNT", StringComparison.Ordinal))
            .Select(d => (Id: d.Code, d.Line, d.Column)).ToList();
        Assert.Equal("SNT1001", Assert.Single(lint).Id);
        Assert.Equal(lint, editor);

        // Metadata the loader refuses, and an event the agent's catalog lacks: the same SNT1004, in the same place.
        foreach (var (file, message) in new[]
                 {
                     (_badMetadata, "MITRE tactic 'TA9999' is not an ATT&CK Enterprise tactic"),
                     (_unknownEvent, "unknown event 'move_page' (known: move_pages)"),
                 })
        {
            var inEditor = (await compilation.WithAnalyzers([.. analyzers]).GetAnalyzerDiagnosticsAsync())
                .Where(d => d.Location.SourceTree?.FilePath == file)
                .Select(d => (d.Id, Line: d.Location.GetLineSpan().StartLinePosition.Line + 1, Column: d.Location.GetLineSpan().StartLinePosition.Character + 1, Message: d.GetMessage()))
                .ToList();
            var linted = RuleLinter.Lint(file).Where(d => d.Code.StartsWith("SNT", StringComparison.Ordinal))
                .Select(d => (Id: d.Code, d.Line, d.Column, d.Message)).ToList();
            Assert.Contains(message, Assert.Single(linted).Message);
            Assert.Equal(linted, inEditor);
        }
    }

    [Fact]
    public void Dotnet_build_fails_on_exactly_the_errors_lint_reports()
    {
        var (exit, output, _) = ChildProcess.Run("dotnet", ["build", _dir, "-c", "Release", "-nologo", "-clp:NoSummary"], 300,
            environment: new Dictionary<string, string?> { ["MSBUILDDISABLENODEREUSE"] = "1" });

        var built = Regex.Matches(output, @"^\s*(?<file>[^(\n]+\.csx)\((?<line>\d+),(?<col>\d+)\): error (?<code>\w+):", RegexOptions.Multiline)
            .Select(m => (Path.GetFullPath(m.Groups["file"].Value.Trim(), _dir), int.Parse(m.Groups["line"].Value), int.Parse(m.Groups["col"].Value), m.Groups["code"].Value))
            .ToHashSet();
        var linted = RuleLinter.Lint(Directory.GetFiles(_dir, "*.csx")).Where(d => d.IsError)
            .Select(d => (d.File, d.Line, d.Column, d.Code))
            .ToHashSet();

        Assert.NotEqual(0, exit);
        // The forbidden call, the unknown tactic and the unknown event; nothing from the two concise rules or the
        // same-named classes.
        Assert.Equal(["SNT1001", "SNT1004", "SNT1004"], linted.Select(d => d.Code).Order());
        Assert.Equal(linted, built);
    }
}
