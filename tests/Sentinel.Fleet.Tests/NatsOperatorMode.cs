using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using NATS.NKeys;

namespace Sentinel.Fleet.Tests;

/// <summary>
/// A NATS operator-mode trust chain for tests, as `nsc` would make it: an operator, one account with JetStream and
/// users whose .creds files (user JWT + nkey seed) the components are given. JWTs are ed25519-nkey signed claims.
/// </summary>
internal sealed class NatsOperatorMode
{
    private readonly KeyPair _operator = KeyPair.CreatePair(PrefixByte.Operator);
    private readonly KeyPair _account = KeyPair.CreatePair(PrefixByte.Account);
    private readonly KeyPair _system = KeyPair.CreatePair(PrefixByte.Account); // JetStream needs a system account
    private readonly string _directory;

    public NatsOperatorMode(string directory) => _directory = directory;

    /// <summary>A nats-server configuration that trusts only this operator and knows its account.</summary>
    public string WriteServerConfig()
    {
        var operatorJwt = Sign(_operator, _operator.GetPublicKey(), "sentinel-test-operator",
            new JsonObject { ["system_account"] = _system.GetPublicKey(), ["type"] = "operator", ["version"] = 2 });
        var systemJwt = Sign(_operator, _system.GetPublicKey(), "SYS", new JsonObject { ["type"] = "account", ["version"] = 2 });
        var accountJwt = Sign(_operator, _account.GetPublicKey(), "SENTINEL", new JsonObject
        {
            ["limits"] = new JsonObject
            {
                ["subs"] = -1, ["data"] = -1, ["payload"] = -1, ["imports"] = -1, ["exports"] = -1, ["wildcards"] = true, ["conn"] = -1,
                ["leaf"] = -1, ["mem_storage"] = -1, ["disk_storage"] = -1, ["streams"] = -1, ["consumer"] = -1,
            },
            ["type"] = "account", ["version"] = 2,
        });
        var path = Path.Combine(_directory, "operator.conf");
        File.WriteAllText(path, $$"""
            operator: "{{operatorJwt}}"
            system_account: {{_system.GetPublicKey()}}
            resolver: MEMORY
            resolver_preload: {
              {{_account.GetPublicKey()}}: "{{accountJwt}}"
              {{_system.GetPublicKey()}}: "{{systemJwt}}"
            }
            """);
        return path;
    }

    /// <summary>A .creds file for a user of the account, allowed to publish and subscribe only where given (null: anywhere).</summary>
    public string WriteCreds(string name, string[]? publish = null, string[]? subscribe = null)
    {
        using var user = KeyPair.CreatePair(PrefixByte.User);
        var claims = new JsonObject { ["subs"] = -1, ["data"] = -1, ["payload"] = -1, ["type"] = "user", ["version"] = 2 };
        if (publish is not null) claims["pub"] = new JsonObject { ["allow"] = new JsonArray([.. publish.Select(s => JsonValue.Create(s))]) };
        if (subscribe is not null) claims["sub"] = new JsonObject { ["allow"] = new JsonArray([.. subscribe.Select(s => JsonValue.Create(s))]) };
        var jwt = Sign(_account, user.GetPublicKey(), name, claims);
        var path = Path.Combine(_directory, name + ".creds");
        File.WriteAllText(path, $"""
            -----BEGIN NATS USER JWT-----
            {jwt}
            ------END NATS USER JWT------

            -----BEGIN USER NKEY SEED-----
            {user.GetSeed()}
            ------END USER NKEY SEED------

            """);
        return path;
    }

    private static string Sign(KeyPair issuer, string subject, string name, JsonObject nats)
    {
        var claims = new JsonObject
        {
            ["jti"] = "", ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ["iss"] = issuer.GetPublicKey(), ["name"] = name,
            ["sub"] = subject, ["nats"] = nats,
        };
        // The claim id is a hash of the claims without it, base32 like every other nkey-world id.
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var id = new char[Base32.GetEncodedLength(hash)];
        Base32.ToBase32(hash, id);
        claims["jti"] = new string(id).TrimEnd('=');
        var signed = Base64Url("""{"typ":"JWT","alg":"ed25519-nkey"}"""u8) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString(new JsonSerializerOptions())));
        var signature = new byte[64];
        issuer.Sign(Encoding.ASCII.GetBytes(signed), signature);
        return signed + "." + Base64Url(signature);
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
