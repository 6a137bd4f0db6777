using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Rules.Compilation;
using Sentinel.Rules.Testing;

namespace Sentinel.Rules;

/// <summary>What `sentinel rules lint` checks: compile and sandbox (never from the cache), then load the rule to
/// validate its metadata (id, severity, MITRE ids, events).</summary>
public static class RuleLinter
{
    public static IReadOnlyList<RuleDiagnostic> Lint(string file)
    {
        var factory = new RuleFactory(new RuleEngineOptions { UseCache = false }, FixtureRunner.FixtureHost, NullLogger.Instance);
        var diagnostics = new List<RuleDiagnostic>();
        factory.Load(factory.Compile(Path.GetFullPath(file)), diagnostics)?.Unload();
        diagnostics.AddRange(KernelPolicyLint.Check(Path.GetFullPath(file)));
        return diagnostics;
    }
}
