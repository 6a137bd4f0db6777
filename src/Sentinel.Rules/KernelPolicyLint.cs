using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Sentinel.Rules.Compilation;

namespace Sentinel.Rules;

/// <summary>
/// `rules lint` checks of a rule's kernel policy (RuleResponse.When): it may only name what sys_enter knows, and
/// what it names must fit the kernel's maps. Errors are located at the offending line of the .csx.
/// </summary>
public static class KernelPolicyLint
{
    /// <summary>A kernel policy names something the kernel cannot check at sys_enter, or a value it cannot hold.</summary>
    public const string Code = "SNT1006";

    private static readonly HashSet<string> Known =
        ["Flags", "Target", "MinCount", "Uid", "Euid", "Lacks", "Has", "Namespace", "Comm", "Compat"];

    private static readonly HashSet<string> AfterTheCall =
    [
        "Ret", "Return", "ReturnValue", "Result", "Errno", "ErrnoName", "Failed", "NotMoved", "Moved",
        "Status", "StatusAtExit", "PagesAtExit", "NodesAtExit", "ExitNs", "Duration", "Toctou",
    ];

    private static readonly HashSet<string> UserMemory = ["Pages", "Nodes", "PagesAtEntry", "NodesAtEntry", "PagesAddress", "NodesAddress"];

    public static IReadOnlyList<RuleDiagnostic> Check(string file)
    {
        string source;
        try { source = RuleFileText.Read(file); }
        catch (IOException) { return []; } // the compiler reports unreadable files
        var root = CSharpSyntaxTree.ParseText(source, CSharpParseOptions.Default.WithKind(SourceCodeKind.Script)).GetRoot();
        var diagnostics = new List<RuleDiagnostic>();
        foreach (var initializer in root.DescendantNodes().OfType<InitializerExpressionSyntax>().Where(IsKernelPolicy))
            foreach (var assignment in initializer.Expressions.OfType<AssignmentExpressionSyntax>())
                if (assignment.Left is IdentifierNameSyntax { Identifier.ValueText: var name } && Problem(name, assignment.Right) is { } why)
                    diagnostics.Add(At(file, assignment, why));
        foreach (var call in root.DescendantNodes().OfType<InvocationExpressionSyntax>())
            if (call.Expression is MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax { Identifier.ValueText: "ResponseAction" }, Name.Identifier.ValueText: "Signal" }
                && call.ArgumentList.Arguments is [{ Expression: LiteralExpressionSyntax { Token.Value: int signal } }]
                && signal is < 1 or > 64)
                diagnostics.Add(At(file, call, $"signal({signal}) is not a signal: Linux signals are 1 to 64"));
        return diagnostics;
    }

    /// <summary>`new KernelPolicy { ... }`, or the target-typed `new() { ... }` assigned to `When`.</summary>
    private static bool IsKernelPolicy(InitializerExpressionSyntax initializer) => initializer.Parent switch
    {
        ObjectCreationExpressionSyntax { Type: var type } => type.ToString() is "KernelPolicy" or "Sentinel.Events.KernelPolicy",
        ImplicitObjectCreationExpressionSyntax implicitNew => implicitNew.Parent is AssignmentExpressionSyntax
        {
            Left: IdentifierNameSyntax { Identifier.ValueText: "When" },
        },
        _ => false,
    };

    private static string? Problem(string name, ExpressionSyntax value)
    {
        if (AfterTheCall.Contains(name))
            return $"'{name}' cannot be a kernel precondition: it is known only after move_pages returns (the result, errno " +
                   "and status[] are written by the call), and kernel policies run at sys_enter, before it. Test it in Match";
        if (UserMemory.Contains(name))
            return $"'{name}' cannot be a kernel precondition: array contents are user memory the caller can change while " +
                   "the kernel reads it, so a sys_enter policy never trusts them. Test them in Match";
        if (!Known.Contains(name))
            return $"'{name}' is not something a kernel policy can check at sys_enter (it can check: {string.Join(", ", Known)})";
        if (name == "Comm" && value is LiteralExpressionSyntax { Token.Value: string comm } && Encoding.UTF8.GetByteCount(comm) is 0 or > 15)
            return $"comm \"{comm}\" can never match: the kernel keeps at most 15 bytes of a command name";
        return null;
    }

    private static RuleDiagnostic At(string file, SyntaxNode node, string message)
    {
        var line = node.GetLocation().GetLineSpan().StartLinePosition;
        return new RuleDiagnostic(file, line.Line + 1, line.Character + 1, RuleDiagnosticSeverity.Error, Code, message);
    }
}
