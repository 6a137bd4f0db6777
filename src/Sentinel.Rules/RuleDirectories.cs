namespace Sentinel.Rules;

public static class RuleDirectories
{
    public const string SystemDirectory = "/etc/sentinel/rules";

    /// <summary>
    /// The repository's rules/ when running from a checkout (found upward from the executable by Sentinel.sln),
    /// else /etc/sentinel/rules.
    /// </summary>
    public static string Default()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sentinel.sln")) && Directory.Exists(Path.Combine(dir.FullName, "rules")))
                return Path.Combine(dir.FullName, "rules");
        return SystemDirectory;
    }

    /// <summary>
    /// Why <paramref name="path"/> cannot be a rules path (missing, not a .csx file, or a directory without
    /// any), in one line; null if it holds rules. Evaluating no rules would be a silent false negative.
    /// </summary>
    public static string? Problem(string path)
    {
        if (File.Exists(path))
            return string.Equals(Path.GetExtension(path), ".csx", StringComparison.OrdinalIgnoreCase)
                ? null
                : $"{path}: not a rule file (rules are C# scripts named *.csx)";
        if (!Directory.Exists(path)) return $"{path}: no such rules directory or file";
        return Directory.EnumerateFiles(path, "*.csx", SearchOption.TopDirectoryOnly).Any()
            ? null
            : $"{path}: no .csx rule files (run 'sentinel rules new NAME' to start one, or pass --no-rules to evaluate none)";
    }

    /// <summary>The rule files of a path: the file itself, or the directory's *.csx in ordinal order.</summary>
    public static IReadOnlyList<string> RuleFiles(string path)
    {
        if (File.Exists(path)) return [Path.GetFullPath(path)];
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"rules path '{path}' does not exist");
        return Directory.EnumerateFiles(path, "*.csx", SearchOption.TopDirectoryOnly)
            .Select(Path.GetFullPath)
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>The fixture file beside a rule: rules/x.csx → rules/x.fixtures.jsonl.</summary>
    public static string FixturePath(string ruleFile) => Path.ChangeExtension(ruleFile, ".fixtures.jsonl");
}
