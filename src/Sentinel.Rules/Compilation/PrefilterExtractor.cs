using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Sentinel.Rules.Runtime;

namespace Sentinel.Rules.Compilation;

/// <summary>
/// Finds when a rule can be skipped: its match function's leading guards (<c>if (C) return;</c>, before any other
/// statement), where C tests facts of <see cref="EventFeatures"/> (<c>e.IsSelf</c>, <c>e.Compat</c>,
/// <c>e.HasFlag(MoveFlags.MoveAll)</c>, <c>e.Errno == Errno.ESRCH</c>...). The result is a set of terms, each of
/// which certainly makes C true; parts it cannot read only make it skip less often.
/// </summary>
/// <remarks>
/// Skipping must change nothing, so a guard is used only if evaluating it can have no effect and cannot throw: its
/// parts are the event's own members read straight off the parameter, constants, and the rule's locals, fields
/// and parameters. Anything else (a call into rule code, a longer member chain) and the guards stop there.
/// </remarks>
internal static class PrefilterExtractor
{
    private const int MaxTerms = 8;

    public static string Find(CompilationUnitSyntax root, SemanticModel model)
    {
        if (MatchBody(root, model) is not var (body, parameter)) return "";
        var terms = new List<(ulong Mask, ulong Value)>();
        foreach (var statement in body.Statements)
        {
            if (!IsGuard(statement, out var condition) || !IsPure(condition, parameter, model)) break;
            terms.AddRange(Sufficient(condition, positive: true, parameter, model) ?? []);
        }
        // The terms that hold most often come first only by source order; two are kept (RulePrefilter).
        return RulePrefilter.Format(terms.Distinct().Take(2));
    }

    /// <summary>The body of <c>Match</c> (a rule class's override) or of the lambda given to the concise form's <c>Match</c>.</summary>
    private static (BlockSyntax Body, IParameterSymbol Event)? MatchBody(CompilationUnitSyntax root, SemanticModel model)
    {
        foreach (var node in root.DescendantNodes())
        {
            switch (node)
            {
                case MethodDeclarationSyntax { Identifier.Text: nameof(Rule.Match), Body: { } body, ParameterList.Parameters.Count: 2 } method
                    when method.Modifiers.Any(SyntaxKind.OverrideKeyword) && model.GetDeclaredSymbol(method) is { } symbol:
                    return (body, symbol.Parameters[0]);
                case InvocationExpressionSyntax { ArgumentList.Arguments: [{ Expression: ParenthesizedLambdaExpressionSyntax { Block: { } block } lambda }] } call
                    when model.GetSymbolInfo(call).Symbol is IMethodSymbol { Name: nameof(RuleScript.Match) } m
                         && m.ContainingType.Name == nameof(RuleScript)
                         && model.GetSymbolInfo(lambda).Symbol is IMethodSymbol { Parameters.Length: 2 } function:
                    return (block, function.Parameters[0]);
            }
        }
        return null;
    }

    private static bool IsGuard(StatementSyntax statement, out ExpressionSyntax condition)
    {
        condition = null!;
        if (statement is not IfStatementSyntax { Else: null } guard) return false;
        var body = guard.Statement is BlockSyntax { Statements: [var only] } ? only : guard.Statement;
        if (body is not ReturnStatementSyntax { Expression: null }) return false;
        condition = guard.Condition;
        return true;
    }

    /// <summary>No effect, no exception: the event's members read off the parameter, constants, locals, fields.</summary>
    private static bool IsPure(ExpressionSyntax condition, IParameterSymbol parameter, SemanticModel model)
    {
        foreach (var node in condition.DescendantNodesAndSelf())
        {
            switch (node)
            {
                case ParenthesizedExpressionSyntax or PrefixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.LogicalNotExpression }
                    or ArgumentListSyntax or ArgumentSyntax or LiteralExpressionSyntax:
                    continue;
                case BinaryExpressionSyntax binary when binary.Kind() is SyntaxKind.LogicalOrExpression or SyntaxKind.LogicalAndExpression
                    or SyntaxKind.EqualsExpression or SyntaxKind.NotEqualsExpression:
                    continue;
                case InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax target } when IsEventMember(target, parameter, model):
                    continue;
                case MemberAccessExpressionSyntax access when IsEventMember(access, parameter, model) || model.GetConstantValue(access).HasValue:
                    continue;
                case IdentifierNameSyntax name when model.GetSymbolInfo(name).Symbol is ILocalSymbol or IParameterSymbol or IFieldSymbol
                    || model.GetConstantValue(name).HasValue || name.Parent is MemberAccessExpressionSyntax:
                    continue;
                default:
                    return false;
            }
        }
        return true;
    }

    /// <summary><c>e.Member</c> on the event parameter itself, declared by the event type (data, read without effects).</summary>
    private static bool IsEventMember(MemberAccessExpressionSyntax access, IParameterSymbol parameter, SemanticModel model) =>
        access.Expression is IdentifierNameSyntax target
        && SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(target).Symbol, parameter)
        && model.GetSymbolInfo(access).Symbol?.ContainingType?.Name == nameof(Sentinel.Events.MovePagesEvent)
        && model.GetSymbolInfo(access).Symbol?.ContainingNamespace?.ToDisplayString() == "Sentinel.Events";

    /// <summary>Terms each of which makes <paramref name="e"/> equal <paramref name="positive"/>; null when none is known.</summary>
    private static List<(ulong Mask, ulong Value)>? Sufficient(ExpressionSyntax e, bool positive, IParameterSymbol parameter, SemanticModel model)
    {
        switch (e)
        {
            case ParenthesizedExpressionSyntax p:
                return Sufficient(p.Expression, positive, parameter, model);
            case PrefixUnaryExpressionSyntax u when u.IsKind(SyntaxKind.LogicalNotExpression):
                return Sufficient(u.Operand, !positive, parameter, model);
            case BinaryExpressionSyntax b when b.IsKind(SyntaxKind.LogicalOrExpression) == positive
                                               && b.Kind() is SyntaxKind.LogicalOrExpression or SyntaxKind.LogicalAndExpression:
                // A || B is true when either is; !(A && B) when either is false.
                var either = (Sufficient(b.Left, positive, parameter, model) ?? []).Concat(Sufficient(b.Right, positive, parameter, model) ?? []).ToList();
                return either.Count == 0 ? null : either.Take(MaxTerms).ToList();
            case BinaryExpressionSyntax b when b.Kind() is SyntaxKind.LogicalOrExpression or SyntaxKind.LogicalAndExpression:
                // A && B needs both: every pair of their terms that does not contradict itself.
                if (Sufficient(b.Left, positive, parameter, model) is not { } left || Sufficient(b.Right, positive, parameter, model) is not { } right)
                    return null;
                var both = left.SelectMany(l => right.Where(r => ((l.Value ^ r.Value) & l.Mask & r.Mask) == 0)
                    .Select(r => (l.Mask | r.Mask, l.Value | r.Value))).Take(MaxTerms).ToList();
                return both.Count == 0 ? null : both;
            case BinaryExpressionSyntax b when b.Kind() is SyntaxKind.EqualsExpression or SyntaxKind.NotEqualsExpression:
                var equal = b.IsKind(SyntaxKind.EqualsExpression) == positive;
                var errno = ErrnoCompare(b.Left, b.Right, parameter, model) ?? ErrnoCompare(b.Right, b.Left, parameter, model);
                return errno is { } bit ? [(bit, equal ? bit : 0)] : null;
            case MemberAccessExpressionSyntax access when IsEventMember(access, parameter, model):
                var fact = access.Name.Identifier.Text switch
                {
                    nameof(Sentinel.Events.MovePagesEvent.IsSelf) => EventFeatures.Self,
                    nameof(Sentinel.Events.MovePagesEvent.Compat) => EventFeatures.Compat,
                    nameof(Sentinel.Events.MovePagesEvent.IsQueryMode) => EventFeatures.QueryMode,
                    nameof(Sentinel.Events.MovePagesEvent.HasToctouEvidence) => EventFeatures.Toctou,
                    nameof(Sentinel.Events.MovePagesEvent.Failed) => EventFeatures.Failed,
                    nameof(Sentinel.Events.MovePagesEvent.IsFold) => EventFeatures.Fold,
                    _ => 0UL,
                };
                return fact == 0 ? null : [(fact, positive ? fact : 0)];
            case InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.Text: nameof(Sentinel.Events.MovePagesEvent.HasFlag) } access, ArgumentList.Arguments: [var argument] }
                when IsEventMember(access, parameter, model) && model.GetConstantValue(argument.Expression) is { HasValue: true, Value: int flag }:
                var flagBit = (Sentinel.Events.MoveFlags)flag switch
                {
                    Sentinel.Events.MoveFlags.Move => EventFeatures.FlagMove,
                    Sentinel.Events.MoveFlags.MoveAll => EventFeatures.FlagMoveAll,
                    _ => 0UL,
                };
                return flagBit == 0 ? null : [(flagBit, positive ? flagBit : 0)];
            default:
                return null;
        }
    }

    /// <summary><c>e.Errno</c> against a constant errno: its feature bit.</summary>
    private static ulong? ErrnoCompare(ExpressionSyntax member, ExpressionSyntax constant, IParameterSymbol parameter, SemanticModel model) =>
        member is MemberAccessExpressionSyntax { Name.Identifier.Text: nameof(Sentinel.Events.MovePagesEvent.Errno) } access
        && IsEventMember(access, parameter, model)
        && model.GetConstantValue(constant) is { HasValue: true, Value: int errno }
        && EventFeatures.Errno(errno) is var bit and not 0
            ? bit
            : null;
}
