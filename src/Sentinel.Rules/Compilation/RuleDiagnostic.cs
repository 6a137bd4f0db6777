namespace Sentinel.Rules.Compilation;

public enum RuleDiagnosticSeverity
{
    Warning,
    Error,
}

/// <summary>A compiler-style diagnostic on a rule file: <c>file:line:col: error CODE: message</c>.</summary>
public sealed record RuleDiagnostic(
    string File,
    int Line,
    int Column,
    RuleDiagnosticSeverity Severity,
    string Code,
    string Message)
{
    public bool IsError => Severity == RuleDiagnosticSeverity.Error;

    public override string ToString() =>
        $"{File}:{Line}:{Column}: {(IsError ? "error" : "warning")} {Code}: {Message}";
}

/// <summary>The codes of Sentinel's own diagnostics (compiler diagnostics keep their CS codes).</summary>
public static class RuleDiagnosticCodes
{
    /// <summary>A symbol outside the sandbox's allowlist.</summary>
    public const string ForbiddenSymbol = "SNT1001";
    /// <summary>A forbidden language construct (unsafe, goto, catch, attributes, #r …).</summary>
    public const string ForbiddenConstruct = "SNT1002";
    /// <summary>An assignment to, or mutation through, the event.</summary>
    public const string EventMutation = "SNT1003";
    /// <summary>The file does not declare exactly one rule class, or its metadata is invalid.</summary>
    public const string InvalidRule = "SNT1004";
    /// <summary>The file could not be read or the rule failed while loading.</summary>
    public const string LoadFailure = "SNT1005";
}
