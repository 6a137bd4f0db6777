using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace Sentinel.Rules.Compilation;

/// <summary>
/// Injects the <see cref="Runtime.RuleBudget"/> checks into a rule that passed the sandbox: one at the top of
/// every loop body, one on entry to every function the rule defines (except <c>Match</c>, which only the
/// engine may call), and a length check around every array size. With <c>goto</c> banned, every path that
/// can repeat passes a check.
/// </summary>
internal sealed class BudgetRewriter(SemanticModel model) : CSharpSyntaxRewriter
{
    private const string Budget = "global::Sentinel.Rules.Runtime.RuleBudget";
    private static readonly StatementSyntax LoopCheck = ParseStatement($"{Budget}.Loop();");
    private static readonly StatementSyntax EnterCheck = ParseStatement($"{Budget}.Enter();");

    /// <summary>How many checks were injected; a rule with none needs no budget armed per event.</summary>
    public int Injected { get; private set; }

    public override SyntaxNode? VisitWhileStatement(WhileStatementSyntax node)
    {
        var visited = (WhileStatementSyntax)base.VisitWhileStatement(node)!;
        return visited.WithStatement(Prepend(LoopCheck, visited.Statement));
    }

    public override SyntaxNode? VisitDoStatement(DoStatementSyntax node)
    {
        var visited = (DoStatementSyntax)base.VisitDoStatement(node)!;
        return visited.WithStatement(Prepend(LoopCheck, visited.Statement));
    }

    public override SyntaxNode? VisitForStatement(ForStatementSyntax node)
    {
        var visited = (ForStatementSyntax)base.VisitForStatement(node)!;
        return visited.WithStatement(Prepend(LoopCheck, visited.Statement));
    }

    public override SyntaxNode? VisitForEachStatement(ForEachStatementSyntax node)
    {
        var visited = (ForEachStatementSyntax)base.VisitForEachStatement(node)!;
        return visited.WithStatement(Prepend(LoopCheck, visited.Statement));
    }

    public override SyntaxNode? VisitForEachVariableStatement(ForEachVariableStatementSyntax node)
    {
        var visited = (ForEachVariableStatementSyntax)base.VisitForEachVariableStatement(node)!;
        return visited.WithStatement(Prepend(LoopCheck, visited.Statement));
    }

    public override SyntaxNode? VisitMethodDeclaration(MethodDeclarationSyntax node)
    {
        var visited = (MethodDeclarationSyntax)base.VisitMethodDeclaration(node)!;
        if (IsEngineEntry(node, nameof(Rule.Match))) return visited;
        var (body, arrow) = Instrument(visited.Body, visited.ExpressionBody, IsVoid(visited.ReturnType));
        // Configure runs once, armed by the engine, and rule code may not call it: its entry check alone does
        // not make the rule need arming on every event.
        if (IsEngineEntry(node, nameof(Rule.Configure)) && (body is not null || arrow is not null)) Injected--;
        return visited.WithBody(body).WithExpressionBody(arrow).WithSemicolonToken(Semicolon(body, visited.SemicolonToken));
    }

    public override SyntaxNode? VisitLocalFunctionStatement(LocalFunctionStatementSyntax node)
    {
        var visited = (LocalFunctionStatementSyntax)base.VisitLocalFunctionStatement(node)!;
        var (body, arrow) = Instrument(visited.Body, visited.ExpressionBody, IsVoid(visited.ReturnType));
        return visited.WithBody(body).WithExpressionBody(arrow).WithSemicolonToken(Semicolon(body, visited.SemicolonToken));
    }

    public override SyntaxNode? VisitConstructorDeclaration(ConstructorDeclarationSyntax node)
    {
        var visited = (ConstructorDeclarationSyntax)base.VisitConstructorDeclaration(node)!;
        var (body, arrow) = Instrument(visited.Body, visited.ExpressionBody, returnsVoid: true);
        return visited.WithBody(body).WithExpressionBody(arrow).WithSemicolonToken(Semicolon(body, visited.SemicolonToken));
    }

    public override SyntaxNode? VisitOperatorDeclaration(OperatorDeclarationSyntax node)
    {
        var visited = (OperatorDeclarationSyntax)base.VisitOperatorDeclaration(node)!;
        var (body, arrow) = Instrument(visited.Body, visited.ExpressionBody, IsVoid(visited.ReturnType));
        return visited.WithBody(body).WithExpressionBody(arrow).WithSemicolonToken(Semicolon(body, visited.SemicolonToken));
    }

    public override SyntaxNode? VisitConversionOperatorDeclaration(ConversionOperatorDeclarationSyntax node)
    {
        var visited = (ConversionOperatorDeclarationSyntax)base.VisitConversionOperatorDeclaration(node)!;
        var (body, arrow) = Instrument(visited.Body, visited.ExpressionBody, returnsVoid: false);
        return visited.WithBody(body).WithExpressionBody(arrow).WithSemicolonToken(Semicolon(body, visited.SemicolonToken));
    }

    public override SyntaxNode? VisitAccessorDeclaration(AccessorDeclarationSyntax node)
    {
        var visited = (AccessorDeclarationSyntax)base.VisitAccessorDeclaration(node)!;
        if (visited.Body is null && visited.ExpressionBody is null) return visited; // auto-accessor
        var (body, arrow) = Instrument(visited.Body, visited.ExpressionBody,
            returnsVoid: !visited.Keyword.IsKind(SyntaxKind.GetKeyword));
        return visited.WithBody(body).WithExpressionBody(arrow).WithSemicolonToken(Semicolon(body, visited.SemicolonToken));
    }

    // `int P => expr;` and `int this[int i] => expr;` become getters with a body.
    public override SyntaxNode? VisitPropertyDeclaration(PropertyDeclarationSyntax node)
    {
        var visited = (PropertyDeclarationSyntax)base.VisitPropertyDeclaration(node)!;
        if (visited.ExpressionBody is not { } arrow) return visited;
        return visited.WithExpressionBody(null).WithSemicolonToken(default).WithAccessorList(Getter(arrow));
    }

    public override SyntaxNode? VisitIndexerDeclaration(IndexerDeclarationSyntax node)
    {
        var visited = (IndexerDeclarationSyntax)base.VisitIndexerDeclaration(node)!;
        if (visited.ExpressionBody is not { } arrow) return visited;
        return visited.WithExpressionBody(null).WithSemicolonToken(default).WithAccessorList(Getter(arrow));
    }

    public override SyntaxNode? VisitParenthesizedLambdaExpression(ParenthesizedLambdaExpressionSyntax node)
    {
        var returnsVoid = LambdaReturnsVoid(node);
        var visited = (ParenthesizedLambdaExpressionSyntax)base.VisitParenthesizedLambdaExpression(node)!;
        var (body, _) = Instrument(visited.Block, visited.ExpressionBody is { } e ? ArrowExpressionClause(e) : null, returnsVoid);
        return visited.WithExpressionBody(null).WithBlock(body);
    }

    public override SyntaxNode? VisitSimpleLambdaExpression(SimpleLambdaExpressionSyntax node)
    {
        var returnsVoid = LambdaReturnsVoid(node);
        var visited = (SimpleLambdaExpressionSyntax)base.VisitSimpleLambdaExpression(node)!;
        var (body, _) = Instrument(visited.Block, visited.ExpressionBody is { } e ? ArrowExpressionClause(e) : null, returnsVoid);
        return visited.WithExpressionBody(null).WithBlock(body);
    }

    public override SyntaxNode? VisitAnonymousMethodExpression(AnonymousMethodExpressionSyntax node)
    {
        var visited = (AnonymousMethodExpressionSyntax)base.VisitAnonymousMethodExpression(node)!;
        var (body, _) = Instrument(visited.Block, null, returnsVoid: true);
        return visited.WithBlock(body!);
    }

    public override SyntaxNode? VisitArrayCreationExpression(ArrayCreationExpressionSyntax node)
    {
        var visited = (ArrayCreationExpressionSyntax)base.VisitArrayCreationExpression(node)!;
        if (visited.Initializer is not null) return visited; // the size is the initializer's, a constant
        var ranks = visited.Type.RankSpecifiers.Select(rank => rank.WithSizes(SeparatedList(rank.Sizes.Select(Bound))));
        return visited.WithType(visited.Type.WithRankSpecifiers(List(ranks)));
    }

    private ExpressionSyntax Bound(ExpressionSyntax size)
    {
        if (size is OmittedArraySizeExpressionSyntax) return size;
        Injected++;
        return InvocationExpression(ParseExpression($"{Budget}.Length"),
            ArgumentList(SingletonSeparatedList(Argument(size))));
    }

    private StatementSyntax Prepend(StatementSyntax check, StatementSyntax body)
    {
        Injected++;
        return body is BlockSyntax block ? block.WithStatements(block.Statements.Insert(0, check)) : Block(check, body);
    }

    private (BlockSyntax? Body, ArrowExpressionClauseSyntax? Arrow) Instrument(
        BlockSyntax? body, ArrowExpressionClauseSyntax? arrow, bool returnsVoid)
    {
        if (body is not null)
        {
            Injected++;
            return (body.WithStatements(body.Statements.Insert(0, EnterCheck)), null);
        }
        if (arrow is null) return (null, null);
        Injected++;
        StatementSyntax statement = returnsVoid ? ExpressionStatement(arrow.Expression) : ReturnStatement(arrow.Expression);
        return (Block(EnterCheck, statement), null);
    }

    private AccessorListSyntax Getter(ArrowExpressionClauseSyntax arrow)
    {
        var (body, _) = Instrument(null, arrow, returnsVoid: false);
        return AccessorList(SingletonList(AccessorDeclaration(SyntaxKind.GetAccessorDeclaration, body)));
    }

    private static SyntaxToken Semicolon(BlockSyntax? body, SyntaxToken current) => body is null ? current : default;

    private static bool IsVoid(TypeSyntax type) =>
        type is PredefinedTypeSyntax predefined && predefined.Keyword.IsKind(SyntaxKind.VoidKeyword);

    private bool LambdaReturnsVoid(AnonymousFunctionExpressionSyntax lambda) =>
        model.GetSymbolInfo(lambda).Symbol is IMethodSymbol { ReturnsVoid: true };

    private static bool IsEngineEntry(MethodDeclarationSyntax method, string name) =>
        method.Identifier.Text == name && method.Modifiers.Any(SyntaxKind.OverrideKeyword);
}
