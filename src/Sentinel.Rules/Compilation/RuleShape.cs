using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Sentinel.Events;

namespace Sentinel.Rules.Compilation;

/// <summary>
/// The rule id of a file, from syntax alone (for cached compilations and duplicate-id errors). The shape and
/// metadata checks themselves are <see cref="Sentinel.Rules.Analyzers.RuleShapeAnalyzer"/>, which the compiler runs.
/// </summary>
internal static class RuleShape
{
    /// <summary>The literal rule id of a file, from syntax alone.</summary>
    public static RuleIdLocation? FindId(SyntaxTree tree) =>
        tree.GetRoot().DescendantNodes().OfType<AssignmentExpressionSyntax>()
            .Where(a => a.Left is IdentifierNameSyntax { Identifier.Text: nameof(RuleInfo.Id) }
                        && a.Parent is InitializerExpressionSyntax && a.Right is LiteralExpressionSyntax)
            .Select(a => At(a.Right, ((LiteralExpressionSyntax)a.Right).Token.ValueText))
            .FirstOrDefault();

    private static RuleIdLocation At(SyntaxNode node, string id)
    {
        var start = node.GetLocation().GetLineSpan().StartLinePosition;
        return new RuleIdLocation(id, start.Line + 1, start.Character + 1);
    }
}
