using System.Diagnostics;

namespace Sentinel.Rules;

/// <summary>How a rule's exception is reported: its type, message and the rule file's line that threw.</summary>
internal static class RuleErrors
{
    /// <summary>"NullReferenceException: … (at /rules/x.csx:12:9)", from the line table compiled into the rule.</summary>
    public static string Describe(Exception ex, string ruleFile)
    {
        var text = $"{ex.GetType().Name}: {ex.Message}";
        var frame = new StackTrace(ex, fNeedFileInfo: true).GetFrames()
            .FirstOrDefault(f => f.GetFileLineNumber() > 0 && string.Equals(f.GetFileName(), ruleFile, StringComparison.Ordinal));
        return frame is null ? text : $"{text} (at {ruleFile}:{frame.GetFileLineNumber()}:{frame.GetFileColumnNumber()})";
    }
}
