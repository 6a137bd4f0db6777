using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Sentinel.Rules.Analyzers;

/// <summary>The diagnostics of the rule sandbox. The codes are stable: docs and tests name them.</summary>
public static class SandboxDiagnostics
{
    private const string Category = "Sentinel.Sandbox";
    private const string Help = "docs/RULES.md#the-sandbox";

    /// <summary>SNT1001: a symbol outside the sandbox's allowlist.</summary>
    public static readonly DiagnosticDescriptor ForbiddenSymbol = Descriptor("SNT1001", "Symbol not allowed in rules");

    /// <summary>SNT1002: a forbidden language construct (unsafe, goto, catch, attributes, #r …).</summary>
    public static readonly DiagnosticDescriptor ForbiddenConstruct = Descriptor("SNT1002", "Construct not allowed in rules");

    /// <summary>SNT1003: an assignment to, or mutation through, the event.</summary>
    public static readonly DiagnosticDescriptor EventMutation = Descriptor("SNT1003", "Rules must not mutate the event");

    public static ImmutableArray<DiagnosticDescriptor> All { get; } = [ForbiddenSymbol, ForbiddenConstruct, EventMutation];

    private static DiagnosticDescriptor Descriptor(string id, string title) =>
        new(id, title, "{0}", Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: Help);
}

/// <summary>
/// Reports every sandbox violation of a rule file as an error. The agent compiles each rule with it, so the
/// editor, <c>dotnet build</c> of a rules project and the agent refuse exactly the same code.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class SandboxAnalyzer : DiagnosticAnalyzer
{
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => SandboxDiagnostics.All;

    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterSemanticModelAction(c =>
        {
            foreach (var diagnostic in SandboxChecker.Check(c.SemanticModel, c.CancellationToken))
                c.ReportDiagnostic(diagnostic);
        });
    }
}
