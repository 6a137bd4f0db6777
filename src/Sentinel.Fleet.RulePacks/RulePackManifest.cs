using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Sentinel.Fleet.RulePacks;

/// <summary>One file of a pack: a top-level name, its size and sha256.</summary>
public sealed record RulePackFile(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("sha256")] string Sha256);

/// <summary>
/// What the signature covers: the pack's version and creation time, the key that signed it, every file with its
/// sha256, the content hash, and the sha256 of the archive that carries the files.
/// </summary>
public sealed partial record RulePackManifest
{
    public const int CurrentFormat = 1;

    [JsonPropertyName("format")] public int Format { get; init; } = CurrentFormat;
    [JsonPropertyName("version")] public required string Version { get; init; }
    [JsonPropertyName("created")] public required DateTimeOffset Created { get; init; }
    [JsonPropertyName("key_id")] public string KeyId { get; init; } = "";
    /// <summary>The pack hash agents report: see <see cref="ContentHashOf"/>.</summary>
    [JsonPropertyName("content_hash")] public required string ContentHash { get; init; }
    [JsonPropertyName("archive_sha256")] public required string ArchiveSha256 { get; init; }
    [JsonPropertyName("archive_bytes")] public required long ArchiveBytes { get; init; }
    [JsonPropertyName("files")] public required IReadOnlyList<RulePackFile> Files { get; init; }

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this);

    public static RulePackManifest Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize<RulePackManifest>(json) ?? throw new RulePackException("malformed manifest: null");
        }
        catch (JsonException ex)
        {
            throw new RulePackException($"malformed manifest: {ex.Message}");
        }
    }

    /// <summary>
    /// sha256 of the files' `sha256sum` lines ("HEX  NAME\n") in ordinal name order: independent of version, time
    /// and signer, so the same rules give the same hash wherever they come from.
    /// </summary>
    public static string ContentHashOf(IEnumerable<RulePackFile> files)
    {
        var text = new StringBuilder();
        foreach (var f in files.OrderBy(f => f.Name, StringComparer.Ordinal)) text.Append(f.Sha256).Append("  ").Append(f.Name).Append('\n');
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>A version is one path and subject-safe token: letters, digits, '.', '_', '+', '-'; at most 64.</summary>
    public static bool IsValidVersion(string? version) => version is not null && VersionPattern().IsMatch(version);

    /// <summary>Only top-level rule and fixture files: no directories, no '..', nothing hidden.</summary>
    public static bool IsValidFileName(string? name) =>
        name is { Length: <= 128 } && FileNamePattern().IsMatch(name) && (name.EndsWith(".csx", StringComparison.Ordinal) || name.EndsWith(".fixtures.jsonl", StringComparison.Ordinal));

    /// <summary>Throws unless every field is well formed; the caller has already verified the signature.</summary>
    public void Validate()
    {
        if (Format != CurrentFormat) throw new RulePackException($"unsupported pack format {Format} (this agent reads format {CurrentFormat})", Version);
        if (!IsValidVersion(Version)) throw new RulePackException($"bad version '{Version}'", Version);
        if (Files is null || Files.Count == 0) throw new RulePackException("the manifest lists no files", Version);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in Files)
        {
            if (!IsValidFileName(f.Name)) throw new RulePackException($"bad file name '{f.Name}' (only top-level *.csx and *.fixtures.jsonl)", Version);
            if (!names.Add(f.Name)) throw new RulePackException($"file '{f.Name}' listed twice", Version);
            if (f.Size < 0 || f.Sha256 is not { Length: 64 }) throw new RulePackException($"bad size or sha256 for '{f.Name}'", Version);
        }
        if (ContentHash != ContentHashOf(Files)) throw new RulePackException("the content hash does not match the file list", Version);
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")]
    private static partial Regex VersionPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex FileNamePattern();
}
