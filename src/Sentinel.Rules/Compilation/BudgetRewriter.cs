using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace Sentinel.Rules.Compilation;

/// <summary>
/// Injects the <see cref="Runtime.RuleBudget"/> checks into a rule that passed the sandbox: one at the top of
/// every loop body, one on entry to every function the rule defines (except <c>Match</c>, which only the
/// engine may call), one before every statement that can allocate, a bound on every array size, and a charge
/// before every framework call that copies strings or collections. With <c>goto</c> banned, every path that
/// can repeat passes a check, and no straight-line run of statements can allocate far past the budget.
/// </summary>
/// <remarks>
/// The entry point is <see cref="CSharpSyntaxRewriter.Visit"/> on a parsed tree's root with the tree's semantic
/// model; <see cref="Injected"/> then says how many checks went in. It only reads the model, so any compiler
/// front end can call it.
/// </remarks>
internal sealed class BudgetRewriter(SemanticModel model) : CSharpSyntaxRewriter
{
    private const string Budget = "global::Sentinel.Rules.Runtime.RuleBudget";
    private static readonly StatementSyntax LoopCheck = ParseStatement($"{Budget}.Loop();");
    private static readonly StatementSyntax EnterCheck = ParseStatement($"{Budget}.Enter();");
    private static readonly StatementSyntax StatementCheck = ParseStatement($"{Budget}.Check();");

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

    // ---- Statements that can allocate get a measured check before them. ----

    public override SyntaxNode? VisitBlock(BlockSyntax node)
    {
        var visited = (BlockSyntax)base.VisitBlock(node)!;
        return visited.WithStatements(WithChecks(node.Statements, visited.Statements));
    }

    public override SyntaxNode? VisitSwitchSection(SwitchSectionSyntax node)
    {
        var visited = (SwitchSectionSyntax)base.VisitSwitchSection(node)!;
        return visited.WithStatements(WithChecks(node.Statements, visited.Statements));
    }

    // The concise script form: top-level statements.
    public override SyntaxNode? VisitCompilationUnit(CompilationUnitSyntax node)
    {
        var visited = (CompilationUnitSyntax)base.VisitCompilationUnit(node)!;
        var members = new List<MemberDeclarationSyntax>();
        for (var i = 0; i < node.Members.Count; i++)
        {
            if (node.Members[i] is GlobalStatementSyntax global && NeedsCheck(global.Statement))
            {
                Injected++;
                members.Add(GlobalStatement(StatementCheck));
            }
            members.Add(visited.Members[i]);
        }
        return visited.WithMembers(List(members));
    }

    public override SyntaxNode? VisitIfStatement(IfStatementSyntax node)
    {
        var visited = (IfStatementSyntax)base.VisitIfStatement(node)!;
        return visited.WithStatement(Embedded(node.Statement, visited.Statement));
    }

    public override SyntaxNode? VisitElseClause(ElseClauseSyntax node)
    {
        var visited = (ElseClauseSyntax)base.VisitElseClause(node)!;
        return visited.WithStatement(Embedded(node.Statement, visited.Statement));
    }

    public override SyntaxNode? VisitUsingStatement(UsingStatementSyntax node)
    {
        var visited = (UsingStatementSyntax)base.VisitUsingStatement(node)!;
        return visited.WithStatement(Embedded(node.Statement, visited.Statement));
    }

    public override SyntaxNode? VisitLabeledStatement(LabeledStatementSyntax node)
    {
        var visited = (LabeledStatementSyntax)base.VisitLabeledStatement(node)!;
        return visited.WithStatement(Embedded(node.Statement, visited.Statement));
    }

    private SyntaxList<StatementSyntax> WithChecks(SyntaxList<StatementSyntax> original, SyntaxList<StatementSyntax> visited)
    {
        var result = new List<StatementSyntax>(visited.Count);
        for (var i = 0; i < original.Count; i++)
        {
            if (NeedsCheck(original[i]))
            {
                Injected++;
                result.Add(StatementCheck);
            }
            result.Add(visited[i]);
        }
        return List(result);
    }

    private StatementSyntax Embedded(StatementSyntax original, StatementSyntax visited)
    {
        if (original is BlockSyntax || !NeedsCheck(original)) return visited;
        Injected++;
        return Block(StatementCheck, visited);
    }

    /// <summary>
    /// Whether a statement's own expressions (not its nested statements or functions, which are checked where
    /// they run) can allocate: a creation, a concatenation or interpolation, or a framework call that returns
    /// a reference or nothing. Framework calls that return a value (Count, IndexOf, TryAdd) grow a collection
    /// by one element at most, and the next check measures that.
    /// </summary>
    private bool NeedsCheck(StatementSyntax statement)
    {
        if (statement is BlockSyntax or LocalFunctionStatementSyntax or EmptyStatementSyntax) return false;
        foreach (var node in statement.DescendantNodesAndSelf(n => n == statement
                     || n is not (StatementSyntax or AnonymousFunctionExpressionSyntax)))
        {
            switch (node)
            {
                case ArrayCreationExpressionSyntax or ImplicitArrayCreationExpressionSyntax or CollectionExpressionSyntax
                    or InterpolatedStringExpressionSyntax or AnonymousObjectCreationExpressionSyntax or WithExpressionSyntax:
                    return true;
                case BaseObjectCreationExpressionSyntax creation
                    when model.GetTypeInfo(creation).Type is not { IsValueType: true }:
                    return true;
                case BinaryExpressionSyntax binary when binary.IsKind(SyntaxKind.AddExpression) && IsString(binary):
                    return true;
                case AssignmentExpressionSyntax assignment when assignment.IsKind(SyntaxKind.AddAssignmentExpression)
                                                               && IsString(assignment.Left):
                    return true;
                case InvocationExpressionSyntax invocation
                    when model.GetSymbolInfo(invocation).Symbol is IMethodSymbol method
                         && (IsFramework(method) && (method.ReturnsVoid || !method.ReturnType.IsValueType) || IsRuleApi(method)):
                    return true;
            }
        }
        return false;
    }

    // ---- Arrays: each size bounded by count and bytes before the array exists. ----

    public override SyntaxNode? VisitArrayCreationExpression(ArrayCreationExpressionSyntax node)
    {
        var visited = (ArrayCreationExpressionSyntax)base.VisitArrayCreationExpression(node)!;
        if (visited.Initializer is not null) return visited; // the size is the initializer's, a constant
        var ranks = visited.Type.RankSpecifiers;
        var first = ranks[0];
        // The elements of the array being made: the element type with the remaining (unsized) ranks.
        TypeSyntax element = ranks.Count == 1
            ? visited.Type.ElementType
            : ArrayType(visited.Type.ElementType, List(ranks.Skip(1).Select(Unsized)));
        var rank = first.Sizes.Count;
        var bounded = first.WithSizes(SeparatedList(first.Sizes.Select(size => Bound(size, element, rank))));
        return visited.WithType(visited.Type.WithRankSpecifiers(ranks.Replace(first, bounded)));
    }

    private static ArrayRankSpecifierSyntax Unsized(ArrayRankSpecifierSyntax rank) =>
        rank.WithSizes(SeparatedList<ExpressionSyntax>(rank.Sizes.Select(_ => OmittedArraySizeExpression())));

    private ExpressionSyntax Bound(ExpressionSyntax size, TypeSyntax element, int rank)
    {
        if (size is OmittedArraySizeExpressionSyntax) return size;
        Injected++;
        return Call(GenericName(Identifier("Array"), TypeArgumentList(SingletonSeparatedList(element.WithoutTrivia()))),
            size, Literal(rank));
    }

    // ---- Framework calls that copy: charged before they run. ----

    public override SyntaxNode? VisitInvocationExpression(InvocationExpressionSyntax node)
    {
        var method = model.GetSymbolInfo(node).Symbol as IMethodSymbol;
        var visited = (InvocationExpressionSyntax)base.VisitInvocationExpression(node)!;
        if (method is null || !IsFramework(method)) return visited;

        if (IsStringMethod(method, "Replace") && method.Parameters.Length >= 2
            && method.Parameters[0].Type.SpecialType == SpecialType.System_String
            && visited.Expression is MemberAccessExpressionSyntax replaced)
        {
            Injected++;
            return InvocationExpression(ParseExpression($"{Budget}.Replace"),
                ArgumentList(SeparatedList(visited.ArgumentList.Arguments.Insert(0, Argument(replaced.Expression)))));
        }

        if (IsStringMethod(method, "Replace") && method.Parameters[0].Type.SpecialType == SpecialType.System_String
            && node.Expression is MemberBindingExpressionSyntax
            && !(node.Parent is ConditionalAccessExpressionSyntax conditional && conditional.WhenNotNull == node))
        {
            // `s?.Replace(a, b).Length`: the receiver cannot be reached to charge it.
            Injected++;
            return Call("Refuse", visited, LiteralExpression(SyntaxKind.StringLiteralExpression,
                SyntaxFactory.Literal("?.Replace inside a longer chain (write it as its own expression)")));
        }

        var arguments = ChargeArguments(node, method, visited.ArgumentList.Arguments);
        visited = visited.WithArgumentList(visited.ArgumentList.WithArguments(arguments));
        if (visited.Expression is MemberAccessExpressionSyntax access && !method.IsStatic
            && ReceiverFactor(method) is > 0 and var factor && IsCopyable(model.GetTypeInfo(((MemberAccessExpressionSyntax)node.Expression).Expression).Type))
        {
            Injected++;
            visited = visited.WithExpression(access.WithExpression(Call("Copied", access.Expression, Literal(factor))));
        }
        return visited;
    }

    // `s?.Replace(a, b)`: the same charge, with the null kept.
    public override SyntaxNode? VisitConditionalAccessExpression(ConditionalAccessExpressionSyntax node)
    {
        var visited = (ConditionalAccessExpressionSyntax)base.VisitConditionalAccessExpression(node)!;
        if (node.WhenNotNull is InvocationExpressionSyntax { Expression: MemberBindingExpressionSyntax } call
            && model.GetSymbolInfo(call).Symbol is IMethodSymbol method && IsFramework(method)
            && IsStringMethod(method, "Replace") && method.Parameters[0].Type.SpecialType == SpecialType.System_String
            && visited.WhenNotNull is InvocationExpressionSyntax visitedCall)
        {
            Injected++;
            return InvocationExpression(ParseExpression($"{Budget}.ReplaceOrNull"),
                ArgumentList(SeparatedList(visitedCall.ArgumentList.Arguments.Insert(0, Argument(visited.Expression)))));
        }
        return visited;
    }

    public override SyntaxNode? VisitObjectCreationExpression(ObjectCreationExpressionSyntax node)
    {
        var ctor = model.GetSymbolInfo(node).Symbol as IMethodSymbol;
        var visited = (ObjectCreationExpressionSyntax)base.VisitObjectCreationExpression(node)!;
        if (ctor is null || visited.ArgumentList is null || !IsFrameworkOrApi(ctor)) return visited;
        return visited.WithArgumentList(visited.ArgumentList.WithArguments(ChargeArguments(node, ctor, visited.ArgumentList.Arguments)));
    }

    public override SyntaxNode? VisitImplicitObjectCreationExpression(ImplicitObjectCreationExpressionSyntax node)
    {
        var ctor = model.GetSymbolInfo(node).Symbol as IMethodSymbol;
        var visited = (ImplicitObjectCreationExpressionSyntax)base.VisitImplicitObjectCreationExpression(node)!;
        if (ctor is null || !IsFrameworkOrApi(ctor)) return visited;
        return visited.WithArgumentList(visited.ArgumentList.WithArguments(ChargeArguments(node, ctor, visited.ArgumentList.Arguments)));
    }

    /// <summary>
    /// Charges the arguments a framework call copies: strings, arrays and collections (not a single element of
    /// a generic collection, which is stored, not copied); a join's separator once per value; a format's width.
    /// A <c>SlidingWindow</c>'s threshold sizes an array per key, so it is bounded like one.
    /// </summary>
    private SeparatedSyntaxList<ArgumentSyntax> ChargeArguments(ExpressionSyntax call, IMethodSymbol method,
        SeparatedSyntaxList<ArgumentSyntax> visited)
    {
        var original = call switch
        {
            InvocationExpressionSyntax i => i.ArgumentList.Arguments,
            BaseObjectCreationExpressionSyntax { ArgumentList: { } list } => list.Arguments,
            _ => default,
        };
        var isJoin = IsStringMethod(method, "Join");
        // A join over one array or collection charges its separator per element; listed values, per value.
        var joinsCollection = isJoin && original.Count is 2 or 4 && TypeOf(original[1].Expression) is IArrayTypeSymbol
            or INamedTypeSymbol { SpecialType: not (SpecialType.System_String or SpecialType.System_Object) } && IsCopyable(TypeOf(original[1].Expression));
        var result = visited;
        for (var i = 0; i < original.Count; i++)
        {
            var argument = original[i];
            if (!argument.RefKindKeyword.IsKind(SyntaxKind.None)) continue;
            if (ParameterOf(method, argument, i) is not { } parameter) continue;
            var expression = visited[i].Expression;
            ExpressionSyntax? charged = null;
            if (method.ContainingType.Name == "SlidingWindow" && parameter.Name == "threshold")
                charged = Call(GenericName(Identifier("Array"), TypeArgumentList(SingletonSeparatedList<TypeSyntax>(
                    PredefinedType(Token(SyntaxKind.LongKeyword))))), expression, Literal(1));
            else if (!IsFramework(method)) continue;
            else if (parameter.Type.SpecialType == SpecialType.System_String && parameter.Name == "format")
                charged = Call("Format", expression);
            else if (isJoin && i == 0)
                charged = joinsCollection ? Call("Separator", expression) : Call("Separator", expression, Literal(original.Count - 1));
            else if (joinsCollection && i == 1)
                charged = Call("Joined", expression);
            else if (parameter.OriginalDefinition.Type is not ITypeParameterSymbol && IsCopyable(TypeOf(argument.Expression)))
                charged = Call("Copied", expression);
            // A constant is as long as the source says; a pushed separator must be popped, constant or not.
            if (charged is null || IsConstant(argument.Expression) && !(joinsCollection && i <= 1) && !IsRuleApi(method)) continue;
            Injected++;
            result = result.Replace(result[i], visited[i].WithExpression(charged));
        }
        return result;
    }

    private static IParameterSymbol? ParameterOf(IMethodSymbol method, ArgumentSyntax argument, int index)
    {
        if (argument.NameColon is { } name) return method.Parameters.FirstOrDefault(p => p.Name == name.Name.Identifier.Text);
        if (index < method.Parameters.Length) return method.Parameters[index];
        return method.Parameters.Length > 0 && method.Parameters[^1].IsParams ? method.Parameters[^1] : null;
    }

    /// <summary>How much a method's result can copy of its receiver; 0 when it copies nothing worth charging.</summary>
    private static int ReceiverFactor(IMethodSymbol method)
    {
        if (method.ReturnsVoid || method.ReturnType.IsValueType) return 0;
        return method.Name switch
        {
            // Each piece is a new string with its own header: up to 8 times the text for one-character pieces.
            "Split" => 8,
            "Insert" or "Replace" or "ToArray" or "ToCharArray" or "ToList" or "GetRange" or "ToUpper" or "ToLower"
                or "ToUpperInvariant" or "ToLowerInvariant" or "Normalize" or "Concat" or "Trim" or "TrimStart"
                or "TrimEnd" or "Substring" or "Remove" or "Slice" or "Clone" => 1,
            _ => 0,
        };
    }

    // ---- Concatenation, interpolation and spreads: each operand charged. ----

    public override SyntaxNode? VisitBinaryExpression(BinaryExpressionSyntax node)
    {
        var visited = (BinaryExpressionSyntax)base.VisitBinaryExpression(node)!;
        if (!node.IsKind(SyntaxKind.AddExpression) || !IsString(node) || model.GetConstantValue(node).HasValue) return visited;
        return visited.WithLeft(ChargeOperand(node.Left, visited.Left)).WithRight(ChargeOperand(node.Right, visited.Right));
    }

    public override SyntaxNode? VisitAssignmentExpression(AssignmentExpressionSyntax node)
    {
        var visited = (AssignmentExpressionSyntax)base.VisitAssignmentExpression(node)!;
        if (!node.IsKind(SyntaxKind.AddAssignmentExpression) || !IsString(node.Left)) return visited;
        return visited.WithRight(ChargeOperand(node.Right, visited.Right));
    }

    private ExpressionSyntax ChargeOperand(ExpressionSyntax original, ExpressionSyntax visited)
    {
        // A nested concatenation charged its own operands already.
        if (original is BinaryExpressionSyntax inner && inner.IsKind(SyntaxKind.AddExpression) && IsString(inner)) return visited;
        if (IsConstant(original) || TypeOf(original) is not { IsReferenceType: true } || original is InterpolatedStringExpressionSyntax)
            return visited;
        Injected++;
        return Call("Copied", visited);
    }

    public override SyntaxNode? VisitInterpolation(InterpolationSyntax node)
    {
        var visited = (InterpolationSyntax)base.VisitInterpolation(node)!;
        var alignment = node.AlignmentClause is { } a && model.GetConstantValue(a.Value) is { HasValue: true, Value: int width }
            ? Math.Abs((long)width) : 0;
        var format = node.FormatClause?.FormatStringToken.ValueText ?? "";
        if (alignment > Runtime.RuleBudget.MaxFormatWidth || Runtime.RuleBudget.IsTooWide(format))
        {
            Injected++;
            return visited.WithExpression(Call("Refuse", visited.Expression,
                LiteralExpression(SyntaxKind.StringLiteralExpression, SyntaxFactory.Literal($"a format width over {Runtime.RuleBudget.MaxFormatWidth}: {{,{alignment}:{format}}}"))));
        }
        if (IsConstant(node.Expression) || TypeOf(node.Expression) is not { IsReferenceType: true }) return visited;
        Injected++;
        return visited.WithExpression(Call("Copied", visited.Expression));
    }

    public override SyntaxNode? VisitSpreadElement(SpreadElementSyntax node)
    {
        var visited = (SpreadElementSyntax)base.VisitSpreadElement(node)!;
        Injected++;
        return visited.WithExpression(Call("Copied", visited.Expression));
    }

    // A framework method taken as a delegate would run without the charges above: refused when it is made.
    public override SyntaxNode? VisitIdentifierName(IdentifierNameSyntax node) => MethodGroup(node, base.VisitIdentifierName(node)!);

    public override SyntaxNode? VisitMemberAccessExpression(MemberAccessExpressionSyntax node) =>
        MethodGroup(node, base.VisitMemberAccessExpression(node)!);

    private SyntaxNode MethodGroup(ExpressionSyntax node, SyntaxNode visited)
    {
        if (node.Parent is InvocationExpressionSyntax invocation && invocation.Expression == node) return visited;
        if (node.Parent is MemberAccessExpressionSyntax access && access.Name == node) return visited;
        if (model.GetSymbolInfo(node).Symbol is not IMethodSymbol { MethodKind: MethodKind.Ordinary } method
            || !IsFramework(method) || !method.ReturnsVoid && method.ReturnType.IsValueType) return visited;
        if (model.GetTypeInfo(node).ConvertedType is not INamedTypeSymbol { TypeKind: TypeKind.Delegate } type
            || type.IsAnonymousType) return visited;
        Injected++;
        return CastExpression(ParseTypeName(type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat)),
            Call("MethodGroup", LiteralExpression(SyntaxKind.StringLiteralExpression, SyntaxFactory.Literal($"{method.ContainingType.Name}.{method.Name}"))));
    }

    private static InvocationExpressionSyntax Call(string name, params ExpressionSyntax[] arguments) =>
        Call(IdentifierName(name), arguments);

    private static InvocationExpressionSyntax Call(SimpleNameSyntax name, params ExpressionSyntax[] arguments) =>
        InvocationExpression(
            MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, ParseExpression(Budget), name),
            ArgumentList(SeparatedList(arguments.Select(Argument))));

    private static LiteralExpressionSyntax Literal(int value) =>
        LiteralExpression(SyntaxKind.NumericLiteralExpression, SyntaxFactory.Literal(value));

    private ITypeSymbol? TypeOf(ExpressionSyntax expression) => model.GetTypeInfo(expression).Type;

    private bool IsConstant(ExpressionSyntax expression) =>
        model.GetConstantValue(expression).HasValue || expression.IsKind(SyntaxKind.NullLiteralExpression)
                                                    || expression.IsKind(SyntaxKind.DefaultLiteralExpression);

    private bool IsString(ExpressionSyntax expression) => TypeOf(expression)?.SpecialType == SpecialType.System_String;

    /// <summary>Strings, arrays, collections and plain objects (which may hold a string): what a call can copy.</summary>
    private static bool IsCopyable(ITypeSymbol? type) => type switch
    {
        null or { IsValueType: true } or ITypeParameterSymbol => false,
        { SpecialType: SpecialType.System_String or SpecialType.System_Object } or IArrayTypeSymbol => true,
        INamedTypeSymbol { TypeKind: TypeKind.Delegate } => false,
        _ => type.AllInterfaces.Any(i => i.SpecialType == SpecialType.System_Collections_IEnumerable)
             || type.SpecialType == SpecialType.System_Collections_IEnumerable,
    };

    private static bool IsStringMethod(IMethodSymbol method, string name) =>
        method.Name == name && method.ContainingType.SpecialType == SpecialType.System_String;

    /// <summary>Defined outside the rule and outside the rule API (whose calls are bounded by design).</summary>
    private bool IsFramework(IMethodSymbol method) =>
        !SymbolEqualityComparer.Default.Equals(method.ContainingAssembly, model.Compilation.Assembly)
        && method.ContainingNamespace?.ToDisplayString() is not ("Sentinel.Rules" or "Sentinel.Events");

    /// <summary>The rule API's own state (a sliding window's keys, findings) is measured like any allocation.</summary>
    private static bool IsRuleApi(IMethodSymbol method) => method.ContainingNamespace?.ToDisplayString() == "Sentinel.Rules";

    private bool IsFrameworkOrApi(IMethodSymbol method) =>
        !SymbolEqualityComparer.Default.Equals(method.ContainingAssembly, model.Compilation.Assembly);

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
        // `=> throw ...` becomes a throw statement: a throw expression cannot be returned.
        StatementSyntax statement = arrow.Expression is ThrowExpressionSyntax thrown ? ThrowStatement(thrown.Expression)
            : returnsVoid ? ExpressionStatement(arrow.Expression) : ReturnStatement(arrow.Expression);
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
