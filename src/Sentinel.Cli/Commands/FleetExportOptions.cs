using System.CommandLine;
using System.Globalization;
using Sentinel.Fleet;
using Sentinel.Fleet.Export;
using Sentinel.Server;

namespace Sentinel.Cli;

/// <summary>`sentinel run --nats ...`: the fleet export options, parsed into what AgentRunner wires.</summary>
internal sealed class FleetExportOptions
{
    private readonly Option<string?> _nats = new("--nats") { Description = "Export detections and heartbeats to NATS JetStream: URL[,URL...] (nats:// or tls://)." };
    private readonly Option<string?> _creds = new("--nats-creds") { Description = "NATS credentials file (.creds: user JWT and nkey seed)." };
    private readonly Option<string?> _tlsCa = new("--nats-tls-ca") { Description = "Require TLS to NATS, verified against this CA bundle (PEM)." };
    private readonly Option<string?> _hostId = new("--host-id") { Description = "This host's fleet id (a NATS subject token); default: /etc/machine-id, else the hostname." };
    private readonly Option<string> _stream = new("--nats-stream") { Description = "The JetStream stream of detections.", DefaultValueFactory = _ => FleetOptions.DefaultStream };
    private readonly Option<int> _replicas = new("--nats-replicas") { Description = "Replicas of the streams the agent creates when missing (3 on a 3-node cluster).", DefaultValueFactory = _ => 1 };
    private readonly Option<string?> _maxAge = new("--nats-max-age") { Description = "Stream retention by age when the agent creates it, e.g. 7d, 12h, 90m (default: unlimited)." };
    private readonly Option<long?> _maxBytes = new("--nats-max-bytes") { Description = "Stream retention by size in bytes when the agent creates it (default: unlimited)." };
    private readonly Option<double> _heartbeat = new("--heartbeat-interval") { Description = "Seconds between heartbeats.", DefaultValueFactory = _ => ExportOptions.DefaultHeartbeatInterval.TotalSeconds };

    public static FleetExportOptions AddTo(Command command)
    {
        var o = new FleetExportOptions();
        foreach (var option in (Option[])[o._nats, o._creds, o._tlsCa, o._hostId, o._stream, o._replicas, o._maxAge, o._maxBytes, o._heartbeat])
            command.Options.Add(option);
        return o;
    }

    public string? HostId(ParseResult parse)
    {
        var id = parse.GetValue(_hostId);
        if (id is not null && HostIdentity.Problem(id) is { } problem) throw new CliException("--host-id: " + problem);
        return id;
    }

    /// <summary>The NATS connection alone (for `--rules nats`), or null without --nats.</summary>
    public FleetOptions? Connection(ParseResult parse)
    {
        if (parse.GetValue(_nats) is not { } urls) return null;
        try
        {
            var fleet = new FleetOptions
            {
                Servers = FleetOptions.ParseServers(urls), CredsFile = parse.GetValue(_creds), TlsCaFile = parse.GetValue(_tlsCa),
                Stream = parse.GetValue(_stream)!,
            };
            fleet.Validate();
            return fleet;
        }
        catch (FleetConfigurationException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    /// <summary>Null without --nats. Throws <see cref="CliException"/> (exit 2) on a bad value.</summary>
    public FleetExportSettings? Parse(ParseResult parse, ServerOptions? server, string? rulesPath)
    {
        if (parse.GetValue(_nats) is not { } urls) return null;
        if (server is null) throw new CliException("--nats exports from the journal: it cannot be combined with --no-server");
        try
        {
            var fleet = new FleetOptions
            {
                Servers = FleetOptions.ParseServers(urls), CredsFile = parse.GetValue(_creds), TlsCaFile = parse.GetValue(_tlsCa),
                Stream = parse.GetValue(_stream)!,
            };
            var export = new ExportOptions
            {
                Replicas = parse.GetValue(_replicas),
                MaxAge = parse.GetValue(_maxAge) is { } age ? ParseAge(age) : null,
                MaxBytes = parse.GetValue(_maxBytes),
                HeartbeatInterval = TimeSpan.FromSeconds(parse.GetValue(_heartbeat)),
            };
            fleet.Validate();
            export.Validate();
            return new FleetExportSettings(fleet, export, rulesPath);
        }
        catch (FleetConfigurationException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    private static TimeSpan ParseAge(string value)
    {
        var unit = value.Length > 0 ? value[^1] : ' ';
        var scale = unit switch { 's' => 1, 'm' => 60, 'h' => 3600, 'd' => 86400, _ => 0 };
        if (scale == 0 || !double.TryParse(value[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) || n <= 0)
            throw new CliException($"--nats-max-age: bad duration '{value}' (expected a number and s, m, h or d, e.g. 7d)");
        return TimeSpan.FromSeconds(n * scale);
    }
}

internal sealed record FleetExportSettings(FleetOptions Fleet, ExportOptions Export, string? RulesPath);
