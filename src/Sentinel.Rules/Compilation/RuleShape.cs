using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Sentinel.Events;

namespace Sentinel.Rules.Compilation;

/// <summary>
/// Checks that a rule file declares exactly one rule, in one of the two forms (a class deriving from
/// <see cref="Rule"/>, or top-level <see cref="RuleScript.Define"/> and <see cref="RuleScript.Match"/>
/// calls), and that the metadata written as constants is valid, each error on the value that causes it.
/// </summary>
internal sealed class RuleShape
{
    private readonly SemanticModel _model;
    private readonly string _file;
    private readonly List<RuleDiagnostic> _diagnostics = [];

    private RuleShape(SemanticModel model, string file) => (_model, _file) = (model, file);

    public sealed record Result(IReadOnlyList<RuleDiagnostic> Diagnostics, bool IsConcise, RuleIdLocation? Id);

    public static Result Check(SemanticModel model, string file)
    {
        var shape = new RuleShape(model, file);
        var root = (CompilationUnitSyntax)model.SyntaxTree.GetRoot();
        var concise = root.Members.OfType<GlobalStatementSyntax>().Any();
        if (concise) shape.CheckScript(root);
        else shape.CheckClass(root);
        var id = shape.CheckMetadata(root);
        return new Result(shape._diagnostics, concise, id);
    }

    /// <summary>The literal rule id of a file, from syntax alone (for cached compilations).</summary>
    public static RuleIdLocation? FindId(SyntaxTree tree) =>
        tree.GetRoot().DescendantNodes().OfType<AssignmentExpressionSyntax>()
            .Where(a => a.Left is IdentifierNameSyntax { Identifier.Text: nameof(RuleInfo.Id) }
                        && a.Parent is InitializerExpressionSyntax && a.Right is LiteralExpressionSyntax)
            .Select(a => At(a.Right, ((LiteralExpressionSyntax)a.Right).Token.ValueText))
            .FirstOrDefault();

    private void CheckClass(CompilationUnitSyntax root)
    {
        var rules = RuleClasses(root);
        if (rules.Count == 1) return;
        if (rules.Count == 0)
            Error(root.Members.FirstOrDefault() ?? (SyntaxNode)root,
                "the file declares no rule: declare one class deriving from Rule, or call Define and Match at the top level " +
                "(using static Sentinel.Rules.RuleScript;)");
        else
            Error(rules[1].Identifier, $"the file declares {rules.Count} rules; declare exactly one class deriving from Rule per file");
    }

    private void CheckScript(CompilationUnitSyntax root)
    {
        foreach (var rule in RuleClasses(root))
            Error(rule.Identifier, "a script that declares its rule with Define and Match cannot also declare a Rule class");
        var calls = root.DescendantNodes().OfType<InvocationExpressionSyntax>()
            .Select(call => (Call: call, Name: ScriptApiMethod(call)))
            .Where(c => c.Name is nameof(RuleScript.Define) or nameof(RuleScript.Match))
            .ToList();
        foreach (var name in (string[])[nameof(RuleScript.Define), nameof(RuleScript.Match)])
        {
            var mine = calls.Where(c => c.Name == name).Select(c => c.Call).ToList();
            var example = name == nameof(RuleScript.Define) ? "Define(new RuleInfo { … })" : "Match((e, findings) => { … })";
            if (mine.Count == 0)
                Error(root.Members[0], $"the script never calls {example}; a concise rule calls Define and Match once each at the top level");
            foreach (var extra in mine.Skip(1)) Error(extra, $"{name} may be called only once");
            foreach (var nested in mine.Where(c => c.Parent is not ExpressionStatementSyntax { Parent: GlobalStatementSyntax }))
                Error(nested, $"call {name} as a top-level statement: it runs once, when the rule loads");
        }
    }

    private string? ScriptApiMethod(InvocationExpressionSyntax call) =>
        _model.GetSymbolInfo(call).Symbol is IMethodSymbol { ContainingType: { } type } method
        && type.ToDisplayString() == typeof(RuleScript).FullName
            ? method.Name
            : null;

    private List<ClassDeclarationSyntax> RuleClasses(CompilationUnitSyntax root) =>
        root.DescendantNodes().OfType<ClassDeclarationSyntax>()
            .Where(c => _model.GetDeclaredSymbol(c) is { IsAbstract: false } s && DerivesFromRule(s))
            .ToList();

    private static bool DerivesFromRule(INamedTypeSymbol type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
            if (t.ToDisplayString() == typeof(Rule).FullName) return true;
        return false;
    }

    /// <summary>Checks each constant in the file's <c>new RuleInfo { … }</c>; returns the id literal if there is one.</summary>
    private RuleIdLocation? CheckMetadata(CompilationUnitSyntax root)
    {
        var creation = root.DescendantNodes().OfType<BaseObjectCreationExpressionSyntax>()
            .FirstOrDefault(c => _model.GetTypeInfo(c).Type?.ToDisplayString() == typeof(RuleInfo).FullName);
        if (creation?.Initializer is not { } initializer) return null;
        RuleIdLocation? id = null;
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var assignment in initializer.Expressions.OfType<AssignmentExpressionSyntax>())
        {
            if (assignment.Left is not IdentifierNameSyntax { Identifier.Text: var property }) continue;
            set.Add(property);
            var value = assignment.Right;
            switch (property)
            {
                case nameof(RuleInfo.Id) when Constant<string>(value) is { } text:
                    Check(value, RuleMetadata.CheckId(text));
                    id = At(value, text);
                    break;
                case nameof(RuleInfo.Version) or nameof(RuleInfo.Name) or nameof(RuleInfo.Description)
                    when _model.GetConstantValue(value) is { HasValue: true, Value: var text }:
                    Check(value, RuleMetadata.CheckRequired(property, text as string));
                    break;
                case nameof(RuleInfo.Severity) when _model.GetConstantValue(value) is { HasValue: true, Value: int severity }:
                    Check(value, RuleMetadata.CheckSeverity((Severity)severity));
                    break;
                case nameof(RuleInfo.MitreTactics):
                    foreach (var (element, text) in Strings(value)) Check(element, RuleMetadata.CheckTactic(text));
                    break;
                case nameof(RuleInfo.MitreTechniques):
                    foreach (var (element, text) in Strings(value)) Check(element, RuleMetadata.CheckTechnique(text));
                    break;
                case nameof(RuleInfo.Events):
                    var events = Strings(value);
                    if (events is [] && IsEmptyCollection(value)) Check(value, RuleMetadata.NoEvents);
                    foreach (var (element, text) in events) Check(element, RuleMetadata.CheckEvent(text));
                    break;
            }
        }
        if (!set.Contains(nameof(RuleInfo.Description))) Check(creation, RuleMetadata.CheckRequired(nameof(RuleInfo.Description), null));
        if (!set.Contains(nameof(RuleInfo.Events))) Check(creation, RuleMetadata.NoEvents);
        return id;
    }

    private T? Constant<T>(ExpressionSyntax expression) where T : class =>
        _model.GetConstantValue(expression) is { HasValue: true, Value: T value } ? value : null;

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
        return [.. elements.Select(e => (e, Constant<string>(e))).Where(e => e.Item2 is not null).Select(e => (e.e, e.Item2!))];
    }

    private static bool IsEmptyCollection(ExpressionSyntax value) => value switch
    {
        CollectionExpressionSyntax c => c.Elements.Count == 0,
        ArrayCreationExpressionSyntax { Initializer: { } init } => init.Expressions.Count == 0,
        _ => false,
    };

    private static RuleIdLocation At(SyntaxNode node, string id)
    {
        var start = node.GetLocation().GetLineSpan().StartLinePosition;
        return new RuleIdLocation(id, start.Line + 1, start.Character + 1);
    }

    private void Check(SyntaxNode node, string? problem)
    {
        if (problem is not null) Error(node, problem);
    }

    private void Error(SyntaxNode node, string message) => Error(node.GetLocation(), message);

    private void Error(SyntaxToken token, string message) => Error(token.GetLocation(), message);

    private void Error(Location location, string message)
    {
        var start = location.GetLineSpan().StartLinePosition;
        _diagnostics.Add(new RuleDiagnostic(_file, start.Line + 1, start.Character + 1, RuleDiagnosticSeverity.Error,
            RuleDiagnosticCodes.InvalidRule, message));
    }
}
