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

    public byte[]? TryRead(string contentHash)
    {
        try
        {
            var path = PathFor(contentHash);
            return File.Exists(path) ? File.ReadAllBytes(path) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes atomically (temp file, then rename). A cache that cannot be written is not an error.</summary>
    public void Write(string contentHash, byte[] image)
    {
        try
        {
            if (!System.IO.Directory.Exists(Directory))
            {
                if (OperatingSystem.IsWindows()) System.IO.Directory.CreateDirectory(Directory);
                else System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            var temp = Path.Combine(Directory, $".{contentHash}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            File.WriteAllBytes(temp, image);
            File.Move(temp, PathFor(contentHash), overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private string PathFor(string contentHash) => Path.Combine(Directory, contentHash + ".dll");
}
