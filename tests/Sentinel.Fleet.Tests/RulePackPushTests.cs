using NATS.Client.Core;
using NATS.Client.JetStream;
using Sentinel.Fleet.RulePacks;
using Sentinel.TestSupport;

namespace Sentinel.Fleet.Tests;

/// <summary>`sentinel rules push` against a real nats-server: lint and fixtures gate it, and what it publishes verifies.</summary>
public sealed class RulePackPushTests
{
    [Fact]
    public async Task Push_refuses_a_pack_whose_lint_or_fixtures_fail_and_publishes_nothing()
    {
        using var servers = await NatsServers.StartSingleAsync();
        var keyPrefix = Path.Combine(Directory.CreateTempSubdirectory("sentinel-keys").FullName, "k");
        RulePackKeys.WritePair(RulePackKeys.Generate(), keyPrefix);

        var broken = RulePackTestRules.BaseDirectory();
        File.WriteAllText(Path.Combine(broken, "snt-0902-broken.csx"), RulePackTestRules.BrokenRule);
        var (lintCode, lintOut, lintErr) = SentinelProcess.Run("rules", "push", broken, "--nats", servers.Urls, "--key", keyPrefix + ".key");

        Assert.True(lintCode == 1, lintOut + lintErr);
        Assert.Contains("lint: ", lintOut);
        Assert.Contains("snt-0902-broken.csx:2:", lintOut);
        Assert.Contains("push refused", lintErr);

        var failing = RulePackTestRules.WithNewRule(wrongFixture: true);
        var (testCode, testOut, testErr) = SentinelProcess.Run("rules", "push", failing, "--nats", servers.Urls, "--key", keyPrefix + ".key");

        Assert.True(testCode == 1, testOut + testErr);
        Assert.Contains("test: ", testOut);
        Assert.Contains("case '13-page query'", testOut);
        Assert.Contains("nothing was signed or published", testErr);

        // Nothing reached the broker: the store was never even created.
        await using var nats = new NatsConnection(new NatsOpts { Url = servers.Urls });
        var missing = await Assert.ThrowsAsync<NatsJSApiException>(() => RulePackStore.OpenAsync(nats, create: false));
        Assert.Equal(404, missing.Error.Code);
    }

    [Fact]
    public async Task Push_signs_and_publishes_a_versioned_pack_that_verifies_and_a_version_is_never_overwritten()
    {
        using var servers = await NatsServers.StartSingleAsync();
        var keyPrefix = Path.Combine(Directory.CreateTempSubdirectory("sentinel-keys").FullName, "k");
        var (keygenCode, keygenOut, keygenErr) = SentinelProcess.Run("rules", "keygen", "--out", keyPrefix);
        Assert.True(keygenCode == 0, keygenOut + keygenErr);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPrefix + ".key"));
        var dir = RulePackTestRules.WithNewRule();

        var (code, stdout, stderr) = SentinelProcess.Run("rules", "push", dir, "--nats", servers.Urls, "--key", keyPrefix + ".key", "--version", "2026.11.1");

        Assert.True(code == 0, stdout + stderr);
        var expectedHash = RulePack.Build(RulePack.ReadDirectory(dir), "x", DateTimeOffset.UnixEpoch, "").Manifest.ContentHash;
        Assert.Contains($"pushed rule pack 2026.11.1: sha256 {expectedHash}, 4 files", stdout);
        await using var nats = new NatsConnection(new NatsOpts { Url = servers.Urls });
        var store = await RulePackStore.OpenAsync(nats, create: false);
        var trusted = RulePackKeys.ReadPublic(keyPrefix + ".pub");
        foreach (var name in new[] { RulePackStore.Latest, RulePackStore.VersionPrefix + "2026.11.1" })
        {
            var pack = RulePack.Verify(await store.ReadAsync(name, RulePack.DefaultMaxBytes), trusted);
            Assert.Equal("2026.11.1", pack.Version);
            Assert.Equal(expectedHash, pack.Hash);
            Assert.Contains(pack.Files, f => f.Name == "snt-0901-thirteen-page-query.csx");
        }

        var (again, againOut, againErr) = SentinelProcess.Run("rules", "push", dir, "--nats", servers.Urls, "--key", keyPrefix + ".key", "--version", "2026.11.1");
        Assert.True(again == 2, againOut + againErr);
        Assert.Contains("version 2026.11.1 already exists in SENTINEL_RULES", againErr);
    }
}
