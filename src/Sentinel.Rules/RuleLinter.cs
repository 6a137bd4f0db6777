using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Rules.Compilation;
using Sentinel.Rules.Testing;

namespace Sentinel.Rules;

/// <summary>What `sentinel rules lint` checks: everything that stops a load. Each file is compiled and
/// sandbox-checked (a cached image is reused with its warnings), loaded, and its metadata validated; across the
/// files, a rule id declared twice is an error on the second declaration.</summary>
public static class RuleLinter
{
    public static IReadOnlyList<RuleDiagnostic> Lint(string file) => Lint([file]);

    public static IReadOnlyList<RuleDiagnostic> Lint(IReadOnlyList<string> files, RuleEngineOptions? options = null)
    {
        var factory = new RuleFactory((options ?? new RuleEngineOptions()) with { Host = FixtureRunner.FixtureHost },
            FixtureRunner.FixtureHost, NullLogger.Instance);
        var compilations = files.Select(Path.GetFullPath).AsParallel().AsOrdered().Select(factory.Compile).ToList();
        var diagnostics = new List<RuleDiagnostic>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var compilation in compilations)
        {
            var slot = factory.Load(compilation, diagnostics);
            diagnostics.AddRange(KernelPolicyLint.Check(compilation.File));
            var id = slot?.Info.Id ?? compilation.DeclaredId?.Id;
            slot?.Unload();
            if (id is null) continue;
            if (seen.TryAdd(id, compilation.File)) continue;
            var at = compilation.DeclaredId is { } declared && declared.Id == id ? declared : new RuleIdLocation(id, 1, 1);
            diagnostics.Add(new RuleDiagnostic(compilation.File, at.Line, at.Column, RuleDiagnosticSeverity.Error,
                RuleDiagnosticCodes.InvalidRule, DuplicateMessage(id, seen[id])));
        }
        return diagnostics;
    }

    /// <summary>The one wording of a duplicate id, for lint and the loader alike.</summary>
    internal static string DuplicateMessage(string id, string firstFile) => $"duplicate rule id {id} (also declared in {firstFile})";
}
