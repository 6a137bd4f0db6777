using System.Runtime.InteropServices;

namespace Sentinel.Rules.Compilation;

/// <summary>
/// Compiled rules on disk, keyed by the hash of the source and the compiler, so a restart skips Roslyn.
/// Only images that passed the sandbox are written; the directory is created private to the user (0700),
/// since whoever can write it can run code in the agent. For the same reason a directory that already exists
/// but belongs to another user, or that others may write to, is not used at all (<see cref="Untrusted"/>).
/// </summary>
public sealed partial class RuleCache
{
    private readonly Lazy<string?> _untrusted;

    public RuleCache(string directory)
    {
        Directory = directory;
        _untrusted = new(() => Distrust(directory));
    }

    public string Directory { get; }

    /// <summary>
    /// Why the cache is not used, or null: an image planted in it would load without passing the sandbox. Then
    /// nothing is read from it or written to it, and every rule is compiled.
    /// </summary>
    public string? Untrusted => _untrusted.Value;

    private const uint GroupOrOthersWrite = 0b000_010_010; // 0022

    private static string? Distrust(string directory)
    {
        if (!OperatingSystem.IsLinux() || !System.IO.Directory.Exists(directory)) return null; // created 0700 by Write
        if (Owner(directory) is not var (owner, mode)) return $"the rule cache {directory} cannot be examined";
        var me = GetEffectiveUid();
        if (owner != me) return $"the rule cache {directory} belongs to uid {owner}, not to this user (uid {me})";
        if ((mode & GroupOrOthersWrite) != 0)
            return $"the rule cache {directory} can be written by others (mode {Convert.ToString(mode & 0xfff, 8)})";
        return null;
    }

    /// <summary>The owner and mode from stat(2), whose layout differs between x86-64 and arm64.</summary>
    private static unsafe (uint Owner, uint Mode)? Owner(string path)
    {
        var stat = stackalloc byte[256];
        if (Stat(path, stat) != 0) return null;
        var (modeAt, ownerAt) = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? (16, 24) : (24, 28);
        return (*(uint*)(stat + ownerAt), *(uint*)(stat + modeAt));
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUid();

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
        if (Untrusted is not null) return null;
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
            if (Untrusted is not null || !File.Exists(path)) return [];
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
        if (Untrusted is not null) return;
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
