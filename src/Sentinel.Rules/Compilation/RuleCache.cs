namespace Sentinel.Rules.Compilation;

/// <summary>
/// Compiled rules on disk, keyed by the hash of the source and the compiler, so a restart skips Roslyn.
/// Only images that passed the sandbox are written; the directory is created private to the user (0700),
/// since whoever can write it can run code in the agent.
/// </summary>
public sealed class RuleCache
{
    public RuleCache(string directory) => Directory = directory;

    public string Directory { get; }

    /// <summary>/var/cache/sentinel/rules for root, else $XDG_CACHE_HOME/sentinel/rules (or ~/.cache/…).</summary>
    public static string DefaultDirectory()
    {
        if (OperatingSystem.IsLinux() && Environment.UserName == "root") return "/var/cache/sentinel/rules";
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var baseDir = !string.IsNullOrEmpty(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "sentinel", "rules");
    }

    /// <summary>The cache the options ask for, or null when caching is off.</summary>
    internal static RuleCache? For(RuleEngineOptions options) =>
        options.UseCache ? new RuleCache(options.CacheDirectory ?? DefaultDirectory()) : null;

    public byte[]? TryRead(string contentHash) => TryRead(contentHash, ".dll");

    /// <summary>Another kind of cached entry than a rule image (e.g. parsed fixtures), by key and file extension.</summary>
    internal byte[]? TryRead(string key, string extension)
    {
        try
        {
            var path = Path.Combine(Directory, key + extension);
            return File.Exists(path) ? File.ReadAllBytes(path) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The warnings the compiler gave the cached image, re-attributed to <paramref name="file"/>.</summary>
    public IReadOnlyList<RuleDiagnostic> ReadWarnings(string contentHash, string file)
    {
        try
        {
            var path = Path.Combine(Directory, contentHash + ".warnings");
            if (!File.Exists(path)) return [];
            return [.. File.ReadAllLines(path).Select(l => l.Split('\t', 4)).Where(p => p.Length == 4)
                .Select(p => new RuleDiagnostic(file, int.Parse(p[0]), int.Parse(p[1]), RuleDiagnosticSeverity.Warning, p[2], p[3]))];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return [];
        }
    }

    /// <summary>Writes the image and its warnings (so a cached lint still shows them).</summary>
    public void Write(string contentHash, byte[] image, IReadOnlyList<RuleDiagnostic> warnings)
    {
        if (warnings.Count > 0)
            WriteAtomically(contentHash + ".warnings", System.Text.Encoding.UTF8.GetBytes(string.Concat(warnings.Select(w =>
                $"{w.Line}\t{w.Column}\t{w.Code}\t{w.Message.ReplaceLineEndings(" ")}\n"))));
        Write(contentHash, image);
    }

    /// <summary>Writes atomically (temp file, then rename). A cache that cannot be written is not an error.</summary>
    public void Write(string contentHash, byte[] image) => WriteAtomically(contentHash + ".dll", image);

    internal void Write(string key, string extension, byte[] content) => WriteAtomically(key + extension, content);

    private void WriteAtomically(string name, byte[] content)
    {
        try
        {
            if (!System.IO.Directory.Exists(Directory))
            {
                if (OperatingSystem.IsWindows()) System.IO.Directory.CreateDirectory(Directory);
                else System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var temp = Path.Combine(Directory, $".{name}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            File.WriteAllBytes(temp, content);
            File.Move(temp, Path.Combine(Directory, name), overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
