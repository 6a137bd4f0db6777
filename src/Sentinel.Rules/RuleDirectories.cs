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
