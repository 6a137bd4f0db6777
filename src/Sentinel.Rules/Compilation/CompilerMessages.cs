using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Sentinel.Rules.Compilation;

/// <summary>
/// Turns compiler diagnostics into rule diagnostics a rule author can act on: an unknown member or name
/// gets a "did you mean", and the compiler's "missing using or assembly reference" hint is dropped, since a
/// rule can add neither.
/// </summary>
internal static class CompilerMessages
{
    private const string ReferenceHint = " (are you missing a using directive or an assembly reference?)";

    public static RuleDiagnostic ToRuleDiagnostic(Diagnostic d, SemanticModel model, string path)
    {
        var start = d.Location.GetLineSpan().StartLinePosition;
        var message = d.Id switch
        {
            "CS1061" or "CS0117" => UnknownMember(d, model) ?? d.GetMessage(),
            "CS0103" => UnknownName(d, model) ?? d.GetMessage(),
            _ => d.GetMessage(),
        };
        return new RuleDiagnostic(path, start.Line + 1, start.Character + 1,
            d.Severity == DiagnosticSeverity.Error ? RuleDiagnosticSeverity.Error : RuleDiagnosticSeverity.Warning,
            d.Id, message.Replace(ReferenceHint, "", StringComparison.Ordinal));
    }

    /// <summary>CS1061/CS0117: 'Type' does not contain a definition for 'Name'.</summary>
    private static string? UnknownMember(Diagnostic d, SemanticModel model)
    {
        var node = model.SyntaxTree.GetRoot().FindNode(d.Location.SourceSpan, getInnermostNodeForTie: true);
        var (receiver, name) = node.FirstAncestorOrSelf<SyntaxNode>(n => n is MemberAccessExpressionSyntax or MemberBindingExpressionSyntax) switch
        {
            MemberAccessExpressionSyntax access => (Receiver(model, access.Expression), access.Name.Identifier.Text),
            MemberBindingExpressionSyntax binding when binding.Parent?.Parent is ConditionalAccessExpressionSyntax conditional =>
                (Receiver(model, conditional.Expression), binding.Name.Identifier.Text),
            _ => (null, null),
        };
        if (receiver is null || name is null) return null;
        var members = new List<string>();
        for (var t = receiver; t is not null; t = t.BaseType)
            members.AddRange(t.GetMembers().Where(m => m.CanBeReferencedByName && m.DeclaredAccessibility == Accessibility.Public)
                .Select(m => m.Name));
        var type = receiver.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat);
        return $"'{type}' does not contain a definition for '{name}'" + Suggestion(name, members);
    }

    /// <summary>CS0103: the name 'x' does not exist in the current context.</summary>
    private static string? UnknownName(Diagnostic d, SemanticModel model)
    {
        if (model.SyntaxTree.GetRoot().FindNode(d.Location.SourceSpan) is not IdentifierNameSyntax identifier) return null;
        var visible = model.LookupSymbols(identifier.SpanStart).Where(s => s.CanBeReferencedByName).Select(s => s.Name);
        var suggestion = Suggestion(identifier.Identifier.Text, visible);
        return suggestion.Length == 0 ? null : $"the name '{identifier.Identifier.Text}' does not exist here" + suggestion;
    }

    private static ITypeSymbol? Receiver(SemanticModel model, ExpressionSyntax expression)
    {
        var type = model.GetTypeInfo(expression).Type;
        if (type is null or IErrorTypeSymbol) type = model.GetSymbolInfo(expression).Symbol as ITypeSymbol;
        return type is IErrorTypeSymbol ? null : type;
    }

    /// <summary>"; did you mean 'X'?" for the closest candidate within a few edits, or "".</summary>
    internal static string Suggestion(string name, IEnumerable<string> candidates)
    {
        var best = candidates.Distinct(StringComparer.Ordinal)
            .Select(c => (Name: c, Distance: Distance(name.ToLowerInvariant(), c.ToLowerInvariant())))
            .Where(c => c.Distance <= Math.Max(2, name.Length / 3) || c.Name.StartsWith(name[..Math.Min(name.Length, 3)], StringComparison.OrdinalIgnoreCase) && c.Distance <= name.Length / 2)
            // Same case first: `findngs` means the parameter `findings`, not the type `Findings`.
            .OrderBy(c => c.Distance).ThenBy(c => Distance(name, c.Name)).ThenBy(c => c.Name, StringComparer.Ordinal)
            .Select(c => c.Name)
            .FirstOrDefault();
        return best is null ? "" : $"; did you mean '{best}'?";
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
