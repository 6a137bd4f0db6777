using NATS.Client.Core;

namespace Sentinel.Fleet;

/// <summary>How a fleet component (agent exporter, gateway, `rules push`) reaches NATS JetStream.</summary>
public sealed record FleetOptions
{
    public const string DefaultStream = "SENTINEL_DETECTIONS";

    /// <summary>One or more nats:// or tls:// URLs; the client fails over between them.</summary>
    public required IReadOnlyList<string> Servers { get; init; }

    /// <summary>A NATS .creds file (user JWT + nkey seed).</summary>
    public string? CredsFile { get; init; }

    /// <summary>A PEM CA bundle: the connection then requires TLS verified against it.</summary>
    public string? TlsCaFile { get; init; }

    /// <summary>The JetStream stream that holds every host's detections.</summary>
    public string Stream { get; init; } = DefaultStream;

    /// <summary>Parses `--nats URL[,URL...]`; throws <see cref="FleetConfigurationException"/> on a bad URL.</summary>
    public static IReadOnlyList<string> ParseServers(string value)
    {
        var urls = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (urls.Length == 0) throw new FleetConfigurationException("--nats needs at least one URL, e.g. nats://127.0.0.1:4222");
        foreach (var url in urls)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("nats" or "tls" or "ws" or "wss") || uri.Port <= 0)
                throw new FleetConfigurationException($"bad NATS URL '{url}' (expected nats://HOST:PORT or tls://HOST:PORT)");
        }
        return urls;
    }

    /// <summary>Checks that the files named exist and are readable, so a typo is one clear line at start.</summary>
    public void Validate()
    {
        if (Servers.Count == 0) throw new FleetConfigurationException("no NATS server given");
        CheckFile(CredsFile, "--nats-creds");
        if (CredsFile is not null) CheckCreds(CredsFile);
        CheckFile(TlsCaFile, "--nats-tls-ca");
        if (string.IsNullOrWhiteSpace(Stream) || Stream.IndexOfAny(['.', '*', '>', ' ', '\t']) >= 0)
            throw new FleetConfigurationException($"bad stream name '{Stream}': no '.', '*', '>' or whitespace");
    }

    /// <summary>
    /// The client options. The connection retries its first connect in the background, so a broker that is
    /// down at start never holds up local detection.
    /// </summary>
    public NatsOpts ToNatsOpts(string clientName) => NatsOpts.Default with
    {
        Url = string.Join(",", Servers),
        Name = clientName,
        AuthOpts = CredsFile is null ? NatsAuthOpts.Default : NatsAuthOpts.Default with { CredsFile = CredsFile },
        TlsOpts = TlsCaFile is null ? NatsTlsOpts.Default : NatsTlsOpts.Default with { CaFile = TlsCaFile, Mode = TlsMode.Require },
        RetryOnInitialConnect = true,
        MaxReconnectRetry = -1,
        ReconnectWaitMin = TimeSpan.FromMilliseconds(250),
        ReconnectWaitMax = TimeSpan.FromSeconds(5),
    };

    /// <summary>A .creds file holds a user JWT and the nkey seed that signs for it; anything else would only fail at connect, over and over.</summary>
    private static void CheckCreds(string path)
    {
        var text = File.ReadAllText(path);
        var jwt = CredsBlock(text, "NATS USER JWT");
        var seed = CredsBlock(text, "USER NKEY SEED");
        if (jwt is null || seed is null)
            throw new FleetConfigurationException($"--nats-creds: {path} is not a NATS .creds file (it needs a user JWT block and a user nkey seed block, as `nsc generate creds` writes)");
        if (jwt.Split('.') is not { Length: 3 } parts || parts.Any(p => p.Length == 0))
            throw new FleetConfigurationException($"--nats-creds: {path}: the user JWT is not a JWT (three dot-separated parts)");
        try
        {
            using var _ = NATS.NKeys.KeyPair.FromSeed(seed);
        }
        catch (Exception ex) when (ex is NATS.NKeys.NKeysException or FormatException or ArgumentException or IndexOutOfRangeException)
        {
            throw new FleetConfigurationException($"--nats-creds: {path}: the nkey seed is not a valid seed ({ex.Message})");
        }
        if (!seed.StartsWith("SU", StringComparison.Ordinal))
            throw new FleetConfigurationException($"--nats-creds: {path}: the nkey seed is not a user seed (it starts with {seed[..Math.Min(2, seed.Length)]}, a user's starts with SU)");
    }

    private static string? CredsBlock(string text, string name)
    {
        var match = System.Text.RegularExpressions.Regex.Match(text, $@"-{{3,}}BEGIN {name}-{{3,}}\s*(\S+)\s*-{{3,}}END {name}-{{3,}}");
        return match.Success ? match.Groups[1].Value : null;
    }

    private static void CheckFile(string? path, string option)
    {
        if (path is null) return;
        if (!File.Exists(path)) throw new FleetConfigurationException($"{option}: {path} does not exist");
        try
        {
            using var _ = File.OpenRead(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new FleetConfigurationException($"{option}: cannot read {path}: {ex.Message}");
        }
    }
}

public sealed class FleetConfigurationException(string message) : Exception(message);
