using System.Net;

namespace Sentinel.Server;

/// <summary>How `sentinel run` serves detections. Defaults are safe: loopback, no auth, journal under the state dir.</summary>
public sealed class ServerOptions
{
    /// <summary>The documented default port of the gRPC listener.</summary>
    public const int DefaultPort = 50551;

    /// <summary>HOST:PORT, [V6]:PORT, or unix:PATH. Port 0 picks a free port.</summary>
    public string Listen { get; set; } = $"127.0.0.1:{DefaultPort}";

    public string JournalPath { get; set; } = DefaultJournalPath();

    /// <summary>Detections older than this (by commit time) are pruned; null keeps them forever.</summary>
    public TimeSpan? RetentionAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The journal keeps at most this many payload bytes, pruning the oldest first; null is unbounded.</summary>
    public long? RetentionBytes { get; set; } = 1L << 30;

    /// <summary>How often retention runs.</summary>
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>FULL fsyncs every batch (survives power loss); NORMAL survives a process crash only.</summary>
    public JournalSync JournalSync { get; set; } = JournalSync.Full;

    /// <summary>The server certificate (PEM). Required on a non-loopback listener.</summary>
    public string? TlsCertificatePath { get; set; }
    public string? TlsKeyPath { get; set; }

    /// <summary>PEM bundle of CAs that sign client certificates: enables mTLS.</summary>
    public string? ClientCaPath { get; set; }

    /// <summary>A bearer token clients send as `authorization: Bearer TOKEN`.</summary>
    public string? Token { get; set; }

    /// <summary>HOST:PORT for the Prometheus endpoint (/metrics, plain HTTP); null disables it.</summary>
    public string? MetricsListen { get; set; }

    /// <summary>StreamEvents: events buffered per client before the oldest are dropped.</summary>
    public int EventBufferSize { get; set; } = 4096;

    /// <summary>The most rule ids one StreamDetections request may name.</summary>
    public int MaxRuleIds { get; set; } = 1024;

    /// <summary>The host's fleet identity stamped on every detection; null resolves <see cref="HostIdentity.Default"/>.</summary>
    public string? HostId { get; set; }

    public bool UsesTls => TlsCertificatePath is not null;
    public bool RequiresAuth => ClientCaPath is not null || Token is not null;

    public static string DefaultJournalPath()
    {
        if (Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root")
            return "/var/lib/sentinel/journal.db";
        var state = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        if (string.IsNullOrEmpty(state))
            state = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        return Path.Combine(state, "sentinel", "journal.db");
    }

    /// <summary>Throws <see cref="ServerConfigurationException"/> for settings that would be unsafe or cannot work.</summary>
    public void Validate()
    {
        var listen = ListenAddress.Parse(Listen);
        if ((TlsCertificatePath is null) != (TlsKeyPath is null))
            throw new ServerConfigurationException("TLS needs both a certificate and a key");
        if (ClientCaPath is not null && !UsesTls)
            throw new ServerConfigurationException("mTLS (a client CA) needs TLS: give a server certificate and key");
        if (Token is not null && (Token.Length == 0 || Token.Any(char.IsWhiteSpace)))
            throw new ServerConfigurationException("the token must be non-empty and contain no whitespace");
        if (!listen.IsLocal)
        {
            if (!UsesTls)
                throw new ServerConfigurationException(
                    $"refusing to listen on {Listen} without TLS: a non-loopback listener needs --tls-cert/--tls-key");
            if (!RequiresAuth)
                throw new ServerConfigurationException(
                    $"refusing to listen on {Listen} without client auth: give a client CA (mTLS) or a token");
        }
        if (MetricsListen is not null) ListenAddress.Parse(MetricsListen);
        if (EventBufferSize < 1) throw new ServerConfigurationException("the event buffer size must be at least 1");
    }
}

public enum JournalSync
{
    Full,
    Normal,
}

public sealed class ServerConfigurationException(string message) : Exception(message);

/// <summary>A parsed listen address: an IP endpoint or a unix socket path.</summary>
public sealed record ListenAddress(IPEndPoint? EndPoint, string? SocketPath)
{
    /// <summary>Loopback or a unix socket: reachable only from this machine.</summary>
    public bool IsLocal => SocketPath is not null || IPAddress.IsLoopback(EndPoint!.Address);

    public static ListenAddress Parse(string value)
    {
        if (value.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = value["unix:".Length..];
            if (path.Length == 0) throw new ServerConfigurationException("unix: needs a socket path");
            return new ListenAddress(null, path);
        }
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), out var port) || port is < 0 or > 65535)
            throw new ServerConfigurationException($"bad listen address '{value}' (expected HOST:PORT or unix:PATH)");
        var host = value[..colon].Trim('[', ']');
        IPAddress address;
        if (host == "localhost") address = IPAddress.Loopback;
        else if (host is "*" or "0.0.0.0") address = IPAddress.Any;
        else if (!IPAddress.TryParse(host, out address!))
            throw new ServerConfigurationException($"bad listen address '{value}': '{host}' is not an IP address");
        return new ListenAddress(new IPEndPoint(address, port), null);
    }

    public override string ToString() => SocketPath is not null ? "unix:" + SocketPath : EndPoint!.ToString();
}
