using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Sentinel.Rules.Analyzers;

/// <summary>
/// SNT1004 as the engineer types: a rule file declares exactly one rule, in one of the two forms (a class
/// deriving from Rule, or top-level Define and Match calls), and the metadata written as constants is valid,
/// each error on the value that causes it. The agent's compiler runs this same analyzer, so lint, editors and
/// <c>dotnet build</c> report the same errors at the same places.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class RuleShapeAnalyzer : DiagnosticAnalyzer
{
    /// <summary>SNT1004: the file does not declare exactly one rule, or its metadata is invalid.</summary>
    public static readonly DiagnosticDescriptor InvalidRule = new("SNT1004", "Invalid rule", "{0}", "Sentinel.Rules",
        DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: "docs/RULES.md");

    private readonly IReadOnlyCollection<string>? _knownEvents;

    /// <summary>
    /// For editors and <c>dotnet build</c>: event names are checked against the catalog the referenced rule API
    /// declares (its <c>[assembly: RuleEvent("…")]</c> attributes), the agent's own list.
    /// </summary>
    public RuleShapeAnalyzer() { }

    /// <summary>For the agent's compiler: also checks each event name against <paramref name="knownEvents"/>.</summary>
    public RuleShapeAnalyzer(IReadOnlyCollection<string> knownEvents) => _knownEvents = knownEvents;

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => [InvalidRule];

    /// <summary>A concise rule is a script with top-level statements (Define and Match); otherwise it is a Rule class.</summary>
    public static bool IsConcise(CompilationUnitSyntax root) => root.Members.OfType<GlobalStatementSyntax>().Any();

    public override void Initialize(AnalysisContext context)
    {
        context.EnableConcurrentExecution();
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.RegisterCompilationStartAction(start =>
        {
            var knownEvents = _knownEvents ?? CatalogOf(start.Compilation);
            start.RegisterSemanticModelAction(c =>
            {
                // Only rule files: a rules project also compiles its GlobalUsings.cs.
                if (!c.SemanticModel.SyntaxTree.FilePath.EndsWith(".csx", StringComparison.OrdinalIgnoreCase)) return;
                foreach (var diagnostic in new RuleShapeChecker(c.SemanticModel, knownEvents).Check())
                    c.ReportDiagnostic(diagnostic);
            });
        });
    }

    private const string RuleEventAttribute = "Sentinel.Rules.RuleEventAttribute";

    /// <summary>The event names the referenced rule API declares; null (no check) for an API too old to declare them.</summary>
    internal static IReadOnlyCollection<string>? CatalogOf(Compilation compilation)
    {
        var api = compilation.GetTypeByMetadataName(RuleEventAttribute);
        if (api is null) return null;
        var names = api.ContainingAssembly.GetAttributes()
            .Where(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, api))
            .Select(a => a.ConstructorArguments.Length == 1 ? a.ConstructorArguments[0].Value as string : null)
            .OfType<string>()
            .ToList();
        return names.Count > 0 ? names : null;
    }
}

/// <summary>The checks behind <see cref="RuleShapeAnalyzer"/>, on one rule file's semantic model.</summary>
internal sealed class RuleShapeChecker(SemanticModel model, IReadOnlyCollection<string>? knownEvents)
{
    private const string RuleType = "Sentinel.Rules.Rule";
    private const string ScriptApiType = "Sentinel.Rules.RuleScript";
    private const string RuleInfoType = "Sentinel.Events.RuleInfo";
    private const string Define = "Define", Match = "Match";

    private readonly List<Diagnostic> _diagnostics = [];

    public List<Diagnostic> Check()
    {
        var root = (CompilationUnitSyntax)model.SyntaxTree.GetRoot();
        if (RuleShapeAnalyzer.IsConcise(root)) CheckScript(root);
        else CheckClass(root);
        CheckMetadata(root);
        return _diagnostics;
    }

    private void CheckClass(CompilationUnitSyntax root)
    {
        var rules = RuleClasses(root);
        if (rules.Count == 1) return;
        if (rules.Count == 0)
            Error(root.Members.FirstOrDefault()?.GetLocation() ?? root.GetLocation(),
                "the file declares no rule: declare one class deriving from Rule, or call Define and Match at the top level " +
                "(using static Sentinel.Rules.RuleScript;)");
        else
            Error(rules[1].Identifier.GetLocation(), $"the file declares {rules.Count} rules; declare exactly one class deriving from Rule per file");
    }

    private void CheckScript(CompilationUnitSyntax root)
    {
        foreach (var rule in RuleClasses(root))
            Error(rule.Identifier.GetLocation(), "a script that declares its rule with Define and Match cannot also declare a Rule class");
        var calls = root.DescendantNodes().OfType<InvocationExpressionSyntax>()
            .Select(call => (Call: call, Name: ScriptApiMethod(call)))
            .Where(c => c.Name is Define or Match)
            .ToList();
        foreach (var name in new[] { Define, Match })
        {
            var mine = calls.Where(c => c.Name == name).Select(c => c.Call).ToList();
            var example = name == Define ? "Define(new RuleInfo { … })" : "Match((e, findings) => { … })";
            if (mine.Count == 0)
                Error(root.Members[0].GetLocation(), $"the script never calls {example}; a concise rule calls Define and Match once each at the top level");
            foreach (var extra in mine.Skip(1)) Error(extra.GetLocation(), $"{name} may be called only once");
            foreach (var nested in mine.Where(c => c.Parent is not ExpressionStatementSyntax { Parent: GlobalStatementSyntax }))
                Error(nested.GetLocation(), $"call {name} as a top-level statement: it runs once, when the rule loads");
        }
    }

    private string? ScriptApiMethod(InvocationExpressionSyntax call) =>
        model.GetSymbolInfo(call).Symbol is IMethodSymbol { ContainingType: { } type } method && type.ToDisplayString() == ScriptApiType
            ? method.Name
            : null;

    private List<ClassDeclarationSyntax> RuleClasses(CompilationUnitSyntax root) =>
        root.DescendantNodes().OfType<ClassDeclarationSyntax>()
            .Where(c => model.GetDeclaredSymbol(c) is { IsAbstract: false } s && DerivesFromRule(s))
            .ToList();

    private static bool DerivesFromRule(INamedTypeSymbol type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
            if (t.ToDisplayString() == RuleType) return true;
        return false;
    }

    /// <summary>Checks each constant in the file's <c>new RuleInfo { … }</c>.</summary>
    private void CheckMetadata(CompilationUnitSyntax root)
    {
        var creation = root.DescendantNodes().OfType<BaseObjectCreationExpressionSyntax>()
            .FirstOrDefault(c => model.GetTypeInfo(c).Type?.ToDisplayString() == RuleInfoType);
        if (creation?.Initializer is not { } initializer) return;
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var assignment in initializer.Expressions.OfType<AssignmentExpressionSyntax>())
        {
            if (assignment.Left is not IdentifierNameSyntax { Identifier.Text: var property }) continue;
            set.Add(property);
            var value = assignment.Right;
            switch (property)
            {
                case "Id" when Constant(value) is { } text:
                    Check(value, RuleMetadataChecks.CheckId(text));
                    break;
                case "Version" or "Name" or "Description" when model.GetConstantValue(value) is { HasValue: true, Value: var text }:
                    Check(value, RuleMetadataChecks.CheckRequired(property, text as string));
                    break;
                case "Severity" when model.GetConstantValue(value) is { HasValue: true, Value: int severity }:
                    Check(value, RuleMetadataChecks.CheckSeverity(severity));
                    break;
                case "MitreTactics":
                    foreach (var (element, text) in Strings(value)) Check(element, RuleMetadataChecks.CheckTactic(text));
                    break;
                case "MitreTechniques":
                    foreach (var (element, text) in Strings(value)) Check(element, RuleMetadataChecks.CheckTechnique(text));
                    break;
                case "Events":
                    var events = Strings(value);
                    if (events.Count == 0 && IsEmptyCollection(value)) Check(value, RuleMetadataChecks.NoEvents);
                    if (knownEvents is not null)
                        foreach (var (element, text) in events) Check(element, RuleMetadataChecks.CheckEvent(text, knownEvents));
                    break;
            }
        }
        if (!set.Contains("Description")) Check(creation, RuleMetadataChecks.CheckRequired("Description", null));
        if (!set.Contains("Events")) Check(creation, RuleMetadataChecks.NoEvents);
    }

    private string? Constant(ExpressionSyntax expression) =>
        model.GetConstantValue(expression) is { HasValue: true, Value: string value } ? value : null;

    /// <summary>The constant strings of <c>["a", "b"]</c>, <c>new[] { … }</c> or <c>new List&lt;string&gt; { … }</c>.</summary>
    private List<(ExpressionSyntax Element, string Text)> Strings(ExpressionSyntax value)
    {
        IEnumerable<ExpressionSyntax> elements = value switch
        {
            CollectionExpressionSyntax collection => collection.Elements.OfType<ExpressionElementSyntax>().Select(e => e.Expression),
            ArrayCreationExpressionSyntax { Initializer: { } init } => init.Expressions,
            ImplicitArrayCreationExpressionSyntax implicitArray => implicitArray.Initializer.Expressions,
            BaseObjectCreationExpressionSyntax { Initializer: { } init } => init.Expressions,
            _ => [],
        };
        return elements.Select(e => (Element: e, Text: Constant(e))).Where(e => e.Text is not null).Select(e => (e.Element, e.Text!)).ToList();
    }

    private static bool IsEmptyCollection(ExpressionSyntax value) => value switch
    {
        CollectionExpressionSyntax c => c.Elements.Count == 0,
        ArrayCreationExpressionSyntax { Initializer: { } init } => init.Expressions.Count == 0,
        _ => false,
    };

    private void Check(SyntaxNode node, string? problem)
    {
        if (problem is not null) Error(node.GetLocation(), problem);
    }

    private void Error(Location location, string message) => _diagnostics.Add(Diagnostic.Create(RuleShapeAnalyzer.InvalidRule, location, message));
}
