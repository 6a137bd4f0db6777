using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Sentinel.Rules.Analyzers;

/// <summary>
/// Checks one rule file against <see cref="SandboxPolicy"/> on the semantic model: every symbol the code
/// names, every forbidden construct, and every write through the event. Each finding names the symbol and
/// its location. <see cref="SandboxAnalyzer"/> runs it wherever the compiler runs.
/// </summary>
internal sealed class SandboxChecker
{
    private static readonly HashSet<string> MutableCollections = new(StringComparer.Ordinal)
    {
        "System.Collections.Generic.List`1", "System.Collections.Generic.Dictionary`2",
        "System.Collections.Generic.HashSet`1", "System.Collections.Generic.Queue`1",
        "System.Collections.Generic.Stack`1", "System.Collections.Generic.SortedSet`1",
        "System.Collections.Generic.SortedDictionary`2", "System.Collections.Generic.IList`1",
        "System.Collections.Generic.ICollection`1", "System.Collections.Generic.IDictionary`2",
        "System.Collections.Generic.ISet`1", "System.Array",
    };

    private readonly SemanticModel _model;
    private readonly IAssemblySymbol _ruleAssembly;
    private readonly List<Diagnostic> _diagnostics = [];

    private SandboxChecker(SemanticModel model)
    {
        _model = model;
        _ruleAssembly = model.Compilation.Assembly;
    }

    public static IReadOnlyList<Diagnostic> Check(SemanticModel model, CancellationToken cancellation)
    {
        var checker = new SandboxChecker(model);
        checker.Run(model.SyntaxTree.GetRoot(cancellation));
        return checker._diagnostics;
    }

    private void Run(SyntaxNode root)
    {
        foreach (var trivia in root.DescendantTrivia(descendIntoTrivia: true))
            CheckDirective(trivia);
        foreach (var token in root.DescendantTokens())
            CheckToken(token);
        foreach (var node in root.DescendantNodes())
            CheckNode(node);
    }

    private void CheckDirective(SyntaxTrivia trivia)
    {
        if (trivia.IsKind(SyntaxKind.ReferenceDirectiveTrivia))
            Forbidden(trivia.GetLocation(), "#r is not allowed: rules cannot reference assemblies");
        else if (trivia.IsKind(SyntaxKind.LoadDirectiveTrivia))
            Forbidden(trivia.GetLocation(), "#load is not allowed: a rule is one self-contained file");
        else if (trivia.IsKind(SyntaxKind.BadDirectiveTrivia))
        {
            var text = trivia.ToString().TrimStart('#').TrimStart();
            if (text.StartsWith("r", StringComparison.Ordinal) && (text.Length == 1 || !char.IsLetter(text[1])))
                Forbidden(trivia.GetLocation(), "#r is not allowed: rules cannot reference assemblies");
            else if (text.StartsWith("load", StringComparison.Ordinal))
                Forbidden(trivia.GetLocation(), "#load is not allowed: a rule is one self-contained file");
        }
    }

    private void CheckToken(SyntaxToken token)
    {
        var reason = token.Kind() switch
        {
            SyntaxKind.UnsafeKeyword => "unsafe code is not allowed",
            SyntaxKind.FixedKeyword => "fixed is not allowed (unsafe code)",
            SyntaxKind.StackAllocKeyword => "stackalloc is not allowed (it can overflow the agent's stack)",
            SyntaxKind.ExternKeyword => "extern is not allowed (interop)",
            SyntaxKind.GotoKeyword => "goto is not allowed (use loops, which the engine can bound)",
            SyntaxKind.LockKeyword => "lock is not allowed (threads)",
            SyntaxKind.CatchKeyword => "catch is not allowed: the engine counts a rule's exceptions, and a rule must not swallow its budget being exceeded",
            // Measured on .NET 10: a budget exception unwinding through a finally that never completes
            // (finally { while (true) { } }) segfaults the process in optimized code.
            SyntaxKind.FinallyKeyword => "finally is not allowed: a rule holds no resources, and a finally that never ends would outlive the budget",
            SyntaxKind.AsyncKeyword when token.Parent is not IdentifierNameSyntax => "async is not allowed (tasks)",
            SyntaxKind.AwaitKeyword => "await is not allowed (tasks)",
            SyntaxKind.TypeOfKeyword => "typeof is not allowed (reflection)",
            SyntaxKind.ArgListKeyword or SyntaxKind.MakeRefKeyword or SyntaxKind.RefTypeKeyword
                or SyntaxKind.RefValueKeyword => $"{token.Text} is not allowed (unsafe code)",
            _ => null,
        };
        if (reason is not null) Forbidden(token.GetLocation(), reason);
    }

    private void CheckNode(SyntaxNode node)
    {
        switch (node)
        {
            case AttributeListSyntax:
                Forbidden(node.GetLocation(), "attributes are not allowed (they reach interop, module initializers and the runtime)");
                return;
            case DestructorDeclarationSyntax:
                Forbidden(node.GetLocation(), "finalizers are not allowed (they run on the finalizer thread, outside any budget)");
                return;
            case UsingDirectiveSyntax { StaticKeyword.RawKind: 0, Alias: null, Name: { } name }:
                var ns = _model.GetSymbolInfo(name).Symbol as INamespaceSymbol;
                if (ns is not null && !SandboxPolicy.AllowedNamespaces.Contains(ns.ToDisplayString()))
                    Report(SandboxDiagnostics.ForbiddenSymbol, name.GetLocation(),
                        $"namespace {ns.ToDisplayString()} is not in the rule allowlist");
                return;
            case SimpleNameSyntax simple:
                CheckName(simple);
                return;
            case BaseObjectCreationExpressionSyntax creation:
                if (_model.GetSymbolInfo(creation).Symbol is IMethodSymbol ctor)
                    CheckSymbol(ctor, creation.GetLocation());
                return;
            case CastExpressionSyntax cast:
                CheckDowncast(cast.Expression, cast.Type, cast.GetLocation());
                return;
            case BinaryExpressionSyntax { RawKind: (int)SyntaxKind.AsExpression or (int)SyntaxKind.IsExpression } test
                when test.Right is TypeSyntax type:
                CheckDowncast(test.Left, type, test.GetLocation());
                return;
            case DeclarationPatternSyntax or RecursivePatternSyntax or TypePatternSyntax:
                CheckPatternDowncast((PatternSyntax)node);
                return;
        }
    }

    private void CheckName(SimpleNameSyntax name)
    {
        var info = _model.GetSymbolInfo(name);
        var symbol = info.Symbol ?? info.CandidateSymbols.FirstOrDefault();
        if (symbol is null or INamespaceSymbol or ILocalSymbol or IParameterSymbol or ILabelSymbol or IRangeVariableSymbol)
            return;
        if (symbol is IAliasSymbol alias) symbol = alias.Target;
        // `File` in `File.Delete(...)`: the member's diagnostic names the full symbol, once.
        if (symbol is ITypeSymbol && IsReceiverOfMember(name)) return;
        CheckSymbol(symbol, name.GetLocation());
        if (symbol is IMethodSymbol method && OverriddenEngineEntry(method) is { } entry)
            Report(SandboxDiagnostics.ForbiddenSymbol, name.GetLocation(),
                $"'{Display(symbol)}' is not allowed: only the engine calls {entry}");
        if (symbol is IPropertySymbol or IFieldSymbol && IsSentinelEvents(symbol.ContainingType) && IsWrittenTo(name))
            Report(SandboxDiagnostics.EventMutation, name.GetLocation(),
                $"assignment to {Display(symbol)} is not allowed: rules must not mutate the event");
    }

    private bool IsReceiverOfMember(SimpleNameSyntax name)
    {
        SyntaxNode expr = name.Parent is MemberAccessExpressionSyntax qualified && qualified.Name == name ? qualified : name;
        return expr.Parent is MemberAccessExpressionSyntax access && access.Expression == expr
            && _model.GetSymbolInfo(access).Symbol is { } member && member is not ITypeSymbol;
    }

    private void CheckSymbol(ISymbol symbol, Location location)
    {
        string? reason = symbol switch
        {
            ITypeSymbol type => SandboxPolicy.CheckType(type, _ruleAssembly),
            IMethodSymbol method => SandboxPolicy.CheckMember(method, _ruleAssembly)
                                    ?? CheckTypes(method.TypeArguments.Append(method.ReturnType)),
            IPropertySymbol property => SandboxPolicy.CheckMember(property, _ruleAssembly)
                                        ?? SandboxPolicy.CheckType(property.Type, _ruleAssembly),
            IFieldSymbol field => SandboxPolicy.CheckMember(field, _ruleAssembly)
                                  ?? SandboxPolicy.CheckType(field.Type, _ruleAssembly),
            IEventSymbol evt => SandboxPolicy.CheckMember(evt, _ruleAssembly),
            _ => null,
        };
        if (reason is not null)
            Report(SandboxDiagnostics.ForbiddenSymbol, location, $"'{Display(symbol)}' is not allowed: {reason}");
    }

    private string? CheckTypes(IEnumerable<ITypeSymbol> types)
    {
        foreach (var type in types)
            if (SandboxPolicy.CheckType(type, _ruleAssembly) is { } reason) return reason;
        return null;
    }

    // Casting a read-only view of the event back to its mutable collection would allow writing through it.
    private void CheckDowncast(ExpressionSyntax source, TypeSyntax target, Location location)
    {
        if (_model.GetTypeInfo(target).Type is not { } targetType || !IsMutableCollection(targetType)) return;
        if (_model.ClassifyConversion(source, targetType) is { IsImplicit: true }) return;
        Report(SandboxDiagnostics.EventMutation, location,
            $"a cast to {targetType.ToDisplayString()} is not allowed: read-only collections stay read-only");
    }

    private void CheckPatternDowncast(PatternSyntax pattern)
    {
        var type = pattern switch
        {
            DeclarationPatternSyntax d => d.Type,
            RecursivePatternSyntax r => r.Type,
            TypePatternSyntax t => t.Type,
            _ => null,
        };
        if (type is null || _model.GetTypeInfo(type).Type is not { } targetType || !IsMutableCollection(targetType)) return;
        var input = _model.GetTypeInfo(pattern).Type;
        if (input is not null && _model.Compilation.ClassifyConversion(input, targetType).IsImplicit) return;
        Report(SandboxDiagnostics.EventMutation, pattern.GetLocation(),
            $"a type test for {targetType.ToDisplayString()} is not allowed: read-only collections stay read-only");
    }

    private bool IsMutableCollection(ITypeSymbol type) =>
        type is IArrayTypeSymbol
        || type is INamedTypeSymbol named && !SymbolEqualityComparer.Default.Equals(named.ContainingAssembly, _ruleAssembly)
           && MutableCollections.Contains(SandboxPolicy.MetadataName(named.OriginalDefinition));

    /// <summary>Match and Configure, when a rule-defined override of them is named: only the engine calls them.</summary>
    private string? OverriddenEngineEntry(IMethodSymbol method)
    {
        if (!SymbolEqualityComparer.Default.Equals(method.ContainingAssembly, _ruleAssembly)) return null;
        for (var m = method.OverriddenMethod; m is not null; m = m.OverriddenMethod)
            if (m.Name is "Match" or "Configure" && m.ContainingType.ToDisplayString() == SandboxPolicy.RuleType)
                return m.Name;
        return null;
    }

    private static bool IsSentinelEvents(INamedTypeSymbol? type) =>
        type?.ContainingNamespace?.ToDisplayString() == "Sentinel.Events";

    private static bool IsWrittenTo(SimpleNameSyntax name)
    {
        SyntaxNode expr = name.Parent is MemberAccessExpressionSyntax access && access.Name == name ? access : name;
        if (expr.Parent is ConditionalAccessExpressionSyntax or MemberBindingExpressionSyntax) expr = expr.Parent;
        switch (expr.Parent)
        {
            case AssignmentExpressionSyntax assignment when assignment.Left == expr:
                // `new RuleInfo { Id = ... }` and `with { ... }` initialize a new object; that is not mutation.
                return assignment.Parent is not InitializerExpressionSyntax
                {
                    RawKind: (int)SyntaxKind.ObjectInitializerExpression or (int)SyntaxKind.WithInitializerExpression,
                };
            case PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PreIncrementExpression or (int)SyntaxKind.PreDecrementExpression }:
            case PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.PostIncrementExpression or (int)SyntaxKind.PostDecrementExpression }:
                return true;
            case ArgumentSyntax argument:
                return !argument.RefKindKeyword.IsKind(SyntaxKind.None) && !argument.RefKindKeyword.IsKind(SyntaxKind.InKeyword);
            case RefExpressionSyntax:
                return true;
            default:
                return false;
        }
    }

    private static string Display(ISymbol symbol) => symbol is ITypeSymbol
        ? symbol.ToDisplayString()
        : $"{symbol.ContainingType?.ToDisplayString()}.{symbol.Name}";

    private void Forbidden(Location location, string message) =>
        Report(SandboxDiagnostics.ForbiddenConstruct, location, message);

    private void Report(DiagnosticDescriptor descriptor, Location location, string message) =>
        _diagnostics.Add(Diagnostic.Create(descriptor, location, message));
}
