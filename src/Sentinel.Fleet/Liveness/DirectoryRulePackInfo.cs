using System.Security.Cryptography;
using System.Text;

namespace Sentinel.Fleet.Liveness;

/// <summary>
/// The rule pack of a `--rules DIR` agent: version "dir", hash = sha256 over each file's path relative to the
/// directory, a NUL, and its bytes, in ordinal path order. Recomputed when a file changes (hot reload).
/// </summary>
public sealed class DirectoryRulePackInfo(string path) : IRulePackInfo
{
    private readonly Lock _lock = new();
    private (long Stamp, string Hash) _cached = (-1, "");

    public string Version => "dir";

    public string Hash
    {
        get
        {
            var files = Files();
            var stamp = files.Aggregate(files.Length * 31L, (acc, f) => HashCode.Combine(acc, f, File.GetLastWriteTimeUtc(f).Ticks, new FileInfo(f).Length));
            lock (_lock)
            {
                if (_cached.Stamp == stamp) return _cached.Hash;
                _cached = (stamp, Compute(files));
                return _cached.Hash;
            }
        }
    }

    private string[] Files()
    {
        if (File.Exists(path)) return [Path.GetFullPath(path)];
        if (!Directory.Exists(path)) return [];
        var files = Directory.GetFiles(path, "*", SearchOption.AllDirectories);
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    private string Compute(string[] files)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var root = Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var file in files)
        {
            try
            {
                var content = File.ReadAllBytes(file);
                sha.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(root, file)));
                sha.AppendData([0]);
                sha.AppendData(content);
            }
            catch (IOException) { } // removed while hashing: the next heartbeat sees the new set
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
