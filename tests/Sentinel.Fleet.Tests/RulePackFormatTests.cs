using System.Formats.Tar;
using System.Text;
using Sentinel.Fleet.RulePacks;

namespace Sentinel.Fleet.Tests;

/// <summary>The pack format and its signature: what verifies, and every way a pack is refused with its reason.</summary>
public sealed class RulePackFormatTests
{
    private static readonly RulePackSigningKey Key = RulePackKeys.Generate();
    private static readonly DateTimeOffset Created = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    private static readonly (string, byte[])[] Files =
    [
        ("snt-0900-a.csx", Encoding.UTF8.GetBytes("// rule A\n")),
        ("snt-0900-a.fixtures.jsonl", Encoding.UTF8.GetBytes("{\"case\":\"x\"}\n")),
        ("snt-0901-b.csx", Encoding.UTF8.GetBytes("// rule B: UNIQUE-MARKER\n")),
    ];

    private static byte[] SignedPack() => RulePack.Create(Files, "v1", Created, Key).Pack;

    private static string Refusal(byte[] pack, RulePackPublicKey? key = null, long max = RulePack.DefaultMaxBytes) =>
        Assert.Throws<RulePackException>(() => RulePack.Verify(pack, [key ?? Key.Public], max)).Message;

    [Fact]
    public void A_signed_pack_verifies_with_its_files_version_and_content_hash_and_is_deterministic()
    {
        var (manifest, pack) = RulePack.Create(Files, "v1", Created, Key);

        var verified = RulePack.Verify(pack, [Key.Public]);

        Assert.Equal("v1", verified.Version);
        Assert.Equal(Key.KeyId, verified.SignerKeyId);
        Assert.Equal(Files.Select(f => f.Item1).Order(StringComparer.Ordinal), verified.Files.Select(f => f.Name));
        Assert.All(Files, f => Assert.Equal(f.Item2, verified.Files.Single(v => v.Name == f.Item1).Content));
        // The content hash is the sha256 of `sha256sum` lines, so it does not depend on version, time or signer.
        var sums = string.Concat(Files.OrderBy(f => f.Item1, StringComparer.Ordinal).Select(f => $"{RulePack.Sha256(f.Item2)}  {f.Item1}\n"));
        Assert.Equal(RulePack.Sha256(Encoding.UTF8.GetBytes(sums)), verified.Hash);
        Assert.Equal(manifest.ContentHash, RulePack.Create(Files.Reverse(), "v2", Created.AddDays(1), RulePackKeys.Generate()).Manifest.ContentHash);
        // Same files, version, time and key: the same bytes (Ed25519 signatures are deterministic).
        Assert.Equal(pack, RulePack.Create(Files.Reverse(), "v1", Created, Key).Pack);
    }

    [Fact]
    public void One_flipped_byte_in_a_file_is_refused()
    {
        var pack = SignedPack();
        var at = IndexOf(pack, "UNIQUE-MARKER"u8);
        pack[at] ^= 0x01;

        Assert.Contains("the archive does not match the signed manifest", Refusal(pack));
    }

    [Fact]
    public void One_flipped_byte_in_the_manifest_is_refused()
    {
        var pack = SignedPack();
        pack[IndexOf(pack, "\"version\":\"v1\""u8) + 12] = (byte)'9'; // v1 → v9: a bumped version without a new signature

        Assert.Contains("bad signature", Refusal(pack));
    }

    [Fact]
    public void One_flipped_byte_in_the_signature_is_refused()
    {
        var pack = SignedPack();
        var signatureStart = 8 + 4 + ManifestLength(pack) + 2;
        pack[signatureStart + 10] ^= 0x80;

        Assert.Contains($"bad signature: the pack does not match its signature by trusted key {Key.KeyId}", Refusal(pack));
    }

    [Fact]
    public void A_pack_signed_by_another_key_is_refused_naming_both_keys_but_any_trusted_key_verifies_during_a_rotation()
    {
        var other = RulePackKeys.Generate();
        var pack = RulePack.Create(Files, "v1", Created, other).Pack;

        var reason = Refusal(pack);
        Assert.Contains($"signed by key {other.KeyId}, which is not trusted (trusted: {Key.KeyId})", reason);
        Assert.Equal(other.KeyId, RulePack.Verify(pack, [Key.Public, other.Public]).SignerKeyId);
    }

    [Fact]
    public void An_unsigned_pack_is_refused_and_its_claimed_version_is_reported()
    {
        var (manifest, archive) = RulePack.Build(Files, "v7", Created, "");
        var pack = RulePack.Envelope(manifest.ToJson(), [], archive);

        var ex = Assert.Throws<RulePackException>(() => RulePack.Verify(pack, [Key.Public]));
        Assert.StartsWith("unsigned pack: refused", ex.Message);
        Assert.Equal("v7", ex.ClaimedVersion);
    }

    [Fact]
    public void An_oversize_pack_is_refused_before_it_is_parsed()
    {
        var pack = SignedPack();

        Assert.Equal($"too large: {pack.Length} bytes (limit 100)", Refusal(pack, max: 100));
    }

    [Fact]
    public void Garbage_and_truncated_packs_are_refused()
    {
        Assert.Contains("bad magic", Refusal(Encoding.UTF8.GetBytes("#!/bin/sh\nrm -rf /\n")));
        var pack = SignedPack();
        Assert.Contains("truncated", Refusal(pack[..40]));
        Assert.Contains("the archive does not match the signed manifest", Refusal(pack[..^10]));
    }

    [Theory]
    [InlineData("../evil.csx")]
    [InlineData("/etc/cron.d/evil.csx")]
    [InlineData("sub/evil.csx")]
    [InlineData(".hidden.csx")]
    [InlineData("evil.sh")]
    public void A_signed_manifest_with_a_path_outside_the_pack_is_refused(string name)
    {
        // Signed by the trusted key: even the key holder cannot write outside the pack directory.
        var files = new[] { (name, Encoding.UTF8.GetBytes("// evil\n")) };
        var archive = RulePack.Archive(files);
        var list = new[] { new RulePackFile(name, 8, RulePack.Sha256(files[0].Item2)) };
        var manifest = new RulePackManifest
        {
            Version = "v1", Created = Created, KeyId = Key.KeyId, ContentHash = RulePackManifest.ContentHashOf(list),
            ArchiveSha256 = RulePack.Sha256(archive), ArchiveBytes = archive.Length, Files = list,
        };
        var json = manifest.ToJson();
        var pack = RulePack.Envelope(json, Key.Sign(RulePack.SignedMessage(json)), archive);

        Assert.Contains($"bad file name '{name}'", Refusal(pack));
    }

    [Fact]
    public void An_archive_entry_the_manifest_does_not_list_or_a_link_is_refused()
    {
        var smuggled = Files.Append(("../../evil.csx", "// evil\n"u8.ToArray())).ToArray();
        Assert.Contains("archive entry '../../evil.csx' is not in the manifest", Refusal(SignWith(RulePack.Archive(smuggled))));

        using var stream = new MemoryStream();
        using (var tar = new TarWriter(stream, TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var (name, content) in Files.Take(2))
                tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
            tar.WriteEntry(new UstarTarEntry(TarEntryType.SymbolicLink, "snt-0901-b.csx") { LinkName = "/etc/shadow" });
        }
        Assert.Contains("archive entry 'snt-0901-b.csx' is a SymbolicLink, not a regular file", Refusal(SignWith(stream.ToArray())));
    }

    /// <summary>A correctly signed manifest for <see cref="Files"/> over a different archive.</summary>
    private static byte[] SignWith(byte[] archive)
    {
        var (manifest, _) = RulePack.Build(Files, "v1", Created, Key.KeyId);
        var json = (manifest with { ArchiveSha256 = RulePack.Sha256(archive), ArchiveBytes = archive.Length }).ToJson();
        return RulePack.Envelope(json, Key.Sign(RulePack.SignedMessage(json)), archive);
    }

    [Fact]
    public void Keygen_writes_a_0600_private_key_never_overwrites_and_a_readable_key_is_refused()
    {
        var prefix = Path.Combine(Directory.CreateTempSubdirectory("sentinel-keys").FullName, "k");
        var key = RulePackKeys.Generate();
        var (privatePath, publicPath) = RulePackKeys.WritePair(key, prefix);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(privatePath));
        Assert.Equal(key.KeyId, RulePackKeys.ReadPrivate(privatePath).KeyId);
        Assert.Equal(key.KeyId, Assert.Single(RulePackKeys.ReadPublic(publicPath)).KeyId);
        Assert.Contains("already exists", Assert.Throws<RulePackException>(() => RulePackKeys.WritePair(RulePackKeys.Generate(), prefix)).Message);

        File.SetUnixFileMode(privatePath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        Assert.Contains("chmod 600", Assert.Throws<RulePackException>(() => RulePackKeys.ReadPrivate(privatePath)).Message);

        // Several lines: a rotation trusts the old and the new key for a while.
        var second = RulePackKeys.Generate();
        File.AppendAllText(publicPath, $"# the next key\n{RulePackKeys.PublicTag} {Convert.ToBase64String(second.PublicKey)}\n");
        Assert.Equal([key.KeyId, second.KeyId], RulePackKeys.ReadPublic(publicPath).Select(k => k.KeyId));
        File.AppendAllText(publicPath, "ssh-ed25519 AAAA\n");
        Assert.Equal($"{publicPath}:4: expected '{RulePackKeys.PublicTag} <base64 of 32 bytes> [comment]', found 'ssh-ed25519'",
            Assert.Throws<RulePackException>(() => RulePackKeys.ReadPublic(publicPath)).Message);
    }

    private static int ManifestLength(byte[] pack) => (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(pack.AsSpan(8));

    private static int IndexOf(byte[] haystack, ReadOnlySpan<byte> needle)
    {
        var at = haystack.AsSpan().IndexOf(needle);
        Assert.True(at >= 0);
        return at;
    }
}
