using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace Sentinel.Rules.Compilation;

/// <summary>
/// Marks every <c>override ... Match(event, findings)</c> of a rule not to be inlined. The engine calls each rule
/// directly from one generated method (<see cref="RuleSetDispatch"/>), and code the runtime inlines there has no
/// frame of its own: an exception it threw could not name its .csx line.
/// </summary>
/// <remarks>The attribute goes on the method's first line, before its modifiers, so no line of the rule moves.</remarks>
internal static class MatchFrame
{
    private static readonly AttributeListSyntax NoInlining = AttributeList(SingletonSeparatedList(
            Attribute(ParseName("global::System.Runtime.CompilerServices.MethodImpl"),
                ParseAttributeArgumentList("(global::System.Runtime.CompilerServices.MethodImplOptions.NoInlining)"))))
        .WithTrailingTrivia(Space);

    public static CompilationUnitSyntax Keep(CompilationUnitSyntax root) =>
        root.ReplaceNodes(root.DescendantNodes().OfType<MethodDeclarationSyntax>().Where(IsMatchOverride), (_, method) => Mark(method));

    private static bool IsMatchOverride(MethodDeclarationSyntax method) =>
        method is { Identifier.ValueText: "Match", ParameterList.Parameters.Count: 2 }
        && method.Modifiers.Any(SyntaxKind.OverrideKeyword);

    private static MethodDeclarationSyntax Mark(MethodDeclarationSyntax method)
    {
        if (method.AttributeLists.Count > 0) return method.WithAttributeLists(method.AttributeLists.Add(NoInlining));
        // The method's indentation moves to the attribute, which takes the modifiers' place on the line.
        var first = method.Modifiers[0];
        return method
            .WithModifiers(method.Modifiers.Replace(first, first.WithLeadingTrivia()))
            .WithAttributeLists(SingletonList(NoInlining.WithLeadingTrivia(first.LeadingTrivia)));
    }
}
