using System.Buffers.Binary;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using Sentinel.Rules;

namespace Sentinel.Fleet.RulePacks;

/// <summary>
/// A rule pack on the wire: <c>"SNTPACK1"</c>, u32 big-endian manifest length, the manifest (JSON), u16 signature
/// length (0 = unsigned, else 64), the Ed25519 signature of <see cref="SignedPrefix"/> + manifest, then the archive:
/// a ustar tar of the files with fixed owner, mode and time, in name order, so the same files give the same bytes.
/// </summary>
public static class RulePack
{
    public static ReadOnlySpan<byte> Magic => "SNTPACK1"u8;
    /// <summary>Domain separation: a signature over a pack manifest is never valid for anything else.</summary>
    public static ReadOnlySpan<byte> SignedPrefix => "sentinel rule pack v1\n"u8;
    /// <summary>Packs are a few rules and fixtures; anything larger is refused before it is read.</summary>
    public const long DefaultMaxBytes = 4L << 20;
    private const int MaxManifestBytes = 1 << 20;
    private const int SignatureBytes = 64;

    /// <summary>The files a pack of <paramref name="directory"/> holds: each top-level .csx and its fixtures.</summary>
    public static IReadOnlyList<(string Name, byte[] Content)> ReadDirectory(string directory)
    {
        if (!Directory.Exists(directory)) throw new RulePackException($"{directory} is not a directory");
        var files = new List<(string, byte[])>();
        foreach (var rule in RuleDirectories.RuleFiles(directory))
            foreach (var path in new[] { rule, RuleDirectories.FixturePath(rule) }.Where(File.Exists))
            {
                var name = Path.GetFileName(path);
                if (!RulePackManifest.IsValidFileName(name))
                    throw new RulePackException($"{path}: a pack file name is letters, digits, '.', '_' and '-' only");
                files.Add((name, File.ReadAllBytes(path)));
            }
        return files.Count > 0 ? files : throw new RulePackException($"no .csx rule files in {directory}");
    }

    /// <summary>The manifest and archive of <paramref name="files"/>, unsigned.</summary>
    public static (RulePackManifest Manifest, byte[] Archive) Build(IEnumerable<(string Name, byte[] Content)> files, string version,
        DateTimeOffset created, string keyId)
    {
        var ordered = files.OrderBy(f => f.Name, StringComparer.Ordinal).ToArray();
        var archive = Archive(ordered);
        var list = ordered.Select(f => new RulePackFile(f.Name, f.Content.Length, Sha256(f.Content))).ToArray();
        var manifest = new RulePackManifest
        {
            Version = version, Created = created, KeyId = keyId, ContentHash = RulePackManifest.ContentHashOf(list),
            ArchiveSha256 = Sha256(archive), ArchiveBytes = archive.Length, Files = list,
        };
        manifest.Validate();
        return (manifest, archive);
    }

    /// <summary>Builds and signs a pack: the bytes to publish.</summary>
    public static (RulePackManifest Manifest, byte[] Pack) Create(IEnumerable<(string Name, byte[] Content)> files, string version,
        DateTimeOffset created, RulePackSigningKey key)
    {
        if (!RulePackManifest.IsValidVersion(version))
            throw new RulePackException($"bad version '{version}': letters, digits, '.', '_', '+', '-', at most 64");
        var (manifest, archive) = Build(files, version, created, key.KeyId);
        var json = manifest.ToJson();
        return (manifest, Envelope(json, key.Sign(SignedMessage(json)), archive));
    }

    /// <summary>The archive: ustar entries with a fixed mode, owner and time.</summary>
    public static byte[] Archive(IEnumerable<(string Name, byte[] Content)> files)
    {
        using var stream = new MemoryStream();
        using (var tar = new TarWriter(stream, TarEntryFormat.Ustar, leaveOpen: true))
            foreach (var (name, content) in files)
                tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name)
                {
                    ModificationTime = DateTimeOffset.UnixEpoch,
                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                    Uid = 0, Gid = 0, UserName = "", GroupName = "",
                    DataStream = new MemoryStream(content),
                });
        return stream.ToArray();
    }

    public static byte[] SignedMessage(ReadOnlySpan<byte> manifestJson) => [.. SignedPrefix, .. manifestJson];

    public static byte[] Envelope(ReadOnlySpan<byte> manifestJson, ReadOnlySpan<byte> signature, ReadOnlySpan<byte> archive)
    {
        var bytes = new byte[Magic.Length + 4 + manifestJson.Length + 2 + signature.Length + archive.Length];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        span = span[Magic.Length..];
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)manifestJson.Length);
        manifestJson.CopyTo(span[4..]);
        span = span[(4 + manifestJson.Length)..];
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)signature.Length);
        signature.CopyTo(span[2..]);
        archive.CopyTo(span[(2 + signature.Length)..]);
        return bytes;
    }

    /// <summary>
    /// Checks a pack and returns its files, or throws <see cref="RulePackException"/> with the reason. The signature is
    /// checked first, against every trusted key; nothing else of the pack is believed before it holds.
    /// </summary>
    public static VerifiedRulePack Verify(ReadOnlySpan<byte> pack, IReadOnlyList<RulePackPublicKey> trusted, long maxBytes = DefaultMaxBytes)
    {
        if (pack.Length > maxBytes) throw new RulePackException($"too large: {pack.Length} bytes (limit {maxBytes})");
        if (pack.Length < Magic.Length + 6 || !pack.StartsWith(Magic)) throw new RulePackException("not a Sentinel rule pack (bad magic)");
        var rest = pack[Magic.Length..];
        var manifestLength = BinaryPrimitives.ReadUInt32BigEndian(rest);
        if (manifestLength > MaxManifestBytes || manifestLength + 6 > rest.Length) throw new RulePackException("truncated pack (manifest length)");
        var json = rest.Slice(4, (int)manifestLength).ToArray();
        rest = rest[(4 + (int)manifestLength)..];
        var signatureLength = BinaryPrimitives.ReadUInt16BigEndian(rest);
        var claimed = ClaimedVersion(json);
        if (signatureLength == 0) throw new RulePackException("unsigned pack: refused (packs must be signed with `sentinel rules keygen` keys)", claimed);
        if (signatureLength != SignatureBytes || 2 + signatureLength > rest.Length)
            throw new RulePackException($"malformed signature ({signatureLength} bytes, expected {SignatureBytes})", claimed);
        var signature = rest.Slice(2, SignatureBytes).ToArray();
        var archive = rest[(2 + SignatureBytes)..];

        var message = SignedMessage(json);
        var signer = trusted.FirstOrDefault(k => k.Verify(message, signature));
        if (signer is null)
        {
            var keyId = ClaimedKeyId(json);
            throw new RulePackException(trusted.Any(k => k.KeyId == keyId)
                ? $"bad signature: the pack does not match its signature by trusted key {keyId}"
                : $"bad signature: signed by key {keyId ?? "(unknown)"}, which is not trusted (trusted: {string.Join(", ", trusted.Select(k => k.KeyId))})", claimed);
        }

        var manifest = RulePackManifest.Parse(json);
        manifest.Validate();
        if (archive.Length != manifest.ArchiveBytes || Sha256(archive) != manifest.ArchiveSha256)
            throw new RulePackException("the archive does not match the signed manifest", manifest.Version);
        return new VerifiedRulePack(manifest, signer.KeyId, ReadArchive(archive.ToArray(), manifest));
    }

    private static IReadOnlyList<(string Name, byte[] Content)> ReadArchive(byte[] archive, RulePackManifest manifest)
    {
        var expected = manifest.Files.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var files = new List<(string, byte[])>();
        try
        {
            using var reader = new TarReader(new MemoryStream(archive));
            while (reader.GetNextEntry(copyData: false) is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                    throw new RulePackException($"archive entry '{entry.Name}' is a {entry.EntryType}, not a regular file", manifest.Version);
                if (!expected.Remove(entry.Name, out var listed))
                    throw new RulePackException($"archive entry '{entry.Name}' is not in the manifest (or is there twice)", manifest.Version);
                using var content = new MemoryStream();
                entry.DataStream?.CopyTo(content);
                var bytes = content.ToArray();
                if (bytes.Length != listed.Size || Sha256(bytes) != listed.Sha256)
                    throw new RulePackException($"archive entry '{entry.Name}' does not match its manifest sha256", manifest.Version);
                files.Add((entry.Name, bytes));
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException or ArgumentException)
        {
            throw new RulePackException($"malformed archive: {ex.Message}", manifest.Version);
        }
        if (expected.Count > 0) throw new RulePackException($"archive lacks '{expected.Keys.First()}'", manifest.Version);
        return files;
    }

    /// <summary>Writes a verified pack's files into a new directory, built beside it and renamed into place.</summary>
    public static void Extract(VerifiedRulePack pack, string directory)
    {
        directory = Path.GetFullPath(directory);
        var staging = directory + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(staging);
        try
        {
            foreach (var (name, content) in pack.Files)
            {
                // Names were validated against the manifest's pattern; this is the last line of defence.
                var path = Path.GetFullPath(Path.Combine(staging, name));
                if (Path.GetDirectoryName(path) != staging) throw new RulePackException($"file name '{name}' escapes the pack directory");
                File.WriteAllBytes(path, content);
            }
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
            Directory.Move(staging, directory);
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    // Read from the unverified manifest only to say what was refused; never used for a decision.
    private static string? ClaimedVersion(byte[] json) => ClaimedField(json, "version");
    private static string? ClaimedKeyId(byte[] json) => ClaimedField(json, "key_id");

    private static string? ClaimedField(byte[] json, string field)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            return doc.RootElement.TryGetProperty(field, out var value) && value.ValueKind == System.Text.Json.JsonValueKind.String
                ? Truncate(value.GetString()!) : null;
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";
}

/// <summary>A pack whose signature, manifest and files all check out.</summary>
public sealed record VerifiedRulePack(RulePackManifest Manifest, string SignerKeyId, IReadOnlyList<(string Name, byte[] Content)> Files)
{
    public string Version => Manifest.Version;
    public string Hash => Manifest.ContentHash;
}
