using System.Security.Cryptography;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace Sentinel.Fleet.RulePacks;

/// <summary>
/// Ed25519 keys for rule packs, in one-line text files:
/// <c>sentinel-rulepack-ed25519 BASE64(32-byte public key) [comment]</c> (several lines = several trusted keys) and
/// <c>sentinel-rulepack-ed25519-private BASE64(32-byte seed) [comment]</c>. Lines starting with # are comments.
/// </summary>
public static class RulePackKeys
{
    public const string PublicTag = "sentinel-rulepack-ed25519";
    public const string PrivateTag = "sentinel-rulepack-ed25519-private";

    /// <summary>The first 8 bytes of sha256(public key), hex: names a key in manifests, logs and errors.</summary>
    public static string KeyId(ReadOnlySpan<byte> publicKey) => Convert.ToHexStringLower(SHA256.HashData(publicKey)[..8]);

    public static RulePackSigningKey Generate() => new(RandomNumberGenerator.GetBytes(32));

    /// <summary>Writes PREFIX.key (mode 0600, never overwritten) and PREFIX.pub; returns both paths.</summary>
    public static (string PrivatePath, string PublicPath) WritePair(RulePackSigningKey key, string prefix)
    {
        var (privatePath, publicPath) = (prefix + ".key", prefix + ".pub");
        foreach (var path in new[] { privatePath, publicPath })
            if (File.Exists(path)) throw new RulePackException($"{path} already exists: refusing to overwrite a key");
        var comment = $"key-id={key.KeyId} created={DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var writer = new StreamWriter(privatePath, options))
            writer.Write($"# Sentinel rule-pack signing key. Whoever holds it can run rule code on every agent that trusts it: keep it offline.\n" +
                         $"{PrivateTag} {Convert.ToBase64String(key.Seed)} {comment}\n");
        File.WriteAllText(publicPath, $"{PublicTag} {Convert.ToBase64String(key.PublicKey)} {comment}\n");
        return (privatePath, publicPath);
    }

    /// <summary>Reads a private key file; refuses one that group or others can read, as ssh does.</summary>
    public static RulePackSigningKey ReadPrivate(string path)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(path) &&
            (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
            throw new RulePackException($"{path}: the private key is readable by group or others: chmod 600 {path}");
        var keys = ReadLines(path, PrivateTag, "private");
        return keys.Count == 1 ? new RulePackSigningKey(keys[0])
            : throw new RulePackException($"{path}: expected exactly one '{PrivateTag} <base64 seed>' line, found {keys.Count}");
    }

    /// <summary>Reads the trusted public keys: one or more lines (several during a key rotation).</summary>
    public static IReadOnlyList<RulePackPublicKey> ReadPublic(string path)
    {
        var keys = ReadLines(path, PublicTag, "public").Select(k => new RulePackPublicKey(k)).ToArray();
        return keys.Length > 0 ? keys : throw new RulePackException($"{path}: no '{PublicTag} <base64 key>' line");
    }

    private static List<byte[]> ReadLines(string path, string tag, string what)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RulePackException($"cannot read {what} key {path}: {ex.Message}");
        }
        var keys = new List<byte[]>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var fields = line.Split((char[]?)null, 3, StringSplitOptions.RemoveEmptyEntries);
            byte[]? key = null;
            if (fields.Length >= 2 && fields[0] == tag)
                try { key = Convert.FromBase64String(fields[1]); } catch (FormatException) { }
            if (key is not { Length: 32 })
                throw new RulePackException($"{path}:{i + 1}: expected '{tag} <base64 of 32 bytes> [comment]'" +
                                            (fields.Length > 0 && fields[0] != tag ? $", found '{fields[0]}'" : ""));
            keys.Add(key);
        }
        return keys;
    }
}

/// <summary>An Ed25519 signing key (the 32-byte seed).</summary>
public sealed class RulePackSigningKey
{
    private readonly Ed25519PrivateKeyParameters _key;

    public RulePackSigningKey(byte[] seed)
    {
        _key = new Ed25519PrivateKeyParameters(seed, 0);
        Seed = seed;
        PublicKey = _key.GeneratePublicKey().GetEncoded();
        KeyId = RulePackKeys.KeyId(PublicKey);
    }

    internal byte[] Seed { get; }
    public byte[] PublicKey { get; }
    public string KeyId { get; }
    public RulePackPublicKey Public => new(PublicKey);

    public byte[] Sign(ReadOnlySpan<byte> message)
    {
        var signer = new Ed25519Signer();
        signer.Init(true, _key);
        signer.BlockUpdate(message);
        return signer.GenerateSignature();
    }
}

/// <summary>A trusted Ed25519 public key.</summary>
public sealed class RulePackPublicKey
{
    private readonly Ed25519PublicKeyParameters _key;

    public RulePackPublicKey(byte[] key)
    {
        _key = new Ed25519PublicKeyParameters(key, 0);
        KeyId = RulePackKeys.KeyId(key);
    }

    public string KeyId { get; }

    public bool Verify(ReadOnlySpan<byte> message, byte[] signature)
    {
        var verifier = new Ed25519Signer();
        verifier.Init(false, _key);
        verifier.BlockUpdate(message);
        return verifier.VerifySignature(signature);
    }
}
