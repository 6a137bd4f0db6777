using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Sentinel.Fleet.Export;

/// <summary>
/// The agent's one NATS connection, shared by the exporter and the heartbeat. It connects in the background and
/// reconnects forever; outages are reported once each (when they begin and when they end), never per retry.
/// </summary>
public sealed class FleetConnection : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private Task? _connect;
    private bool _reportedDown, _everConnected;

    public FleetConnection(FleetOptions options, ExportOptions export, ILogger<FleetConnection>? logger = null, string clientName = "sentinel-agent")
    {
        Options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        Connection = new NatsConnection(options.ToNatsOpts(clientName) with { RequestTimeout = export.AckTimeout, CommandTimeout = export.AckTimeout });
        JetStream = new NatsJSContext(Connection, new NatsJSOpts(Connection.Opts));
        Connection.ConnectionOpened += (_, _) => { OnHealthy(); return ValueTask.CompletedTask; };
        Connection.ConnectionDisconnected += (_, _) => { OnDown("connection lost"); return ValueTask.CompletedTask; };
    }

    public FleetOptions Options { get; }
    public NatsConnection Connection { get; }
    public NatsJSContext JetStream { get; }
    public bool IsConnected => Connection.ConnectionState == NatsConnectionState.Open;
    public string Servers => string.Join(",", Options.Servers);

    /// <summary>Starts connecting (once); returns at once. The client keeps retrying with backoff in the background.</summary>
    public void EnsureConnecting()
    {
        lock (_lock) _connect ??= ConnectAsync();
    }

    private async Task ConnectAsync()
    {
        try
        {
            await Connection.ConnectAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException or IOException)
        {
            OnDown(ex.Message);
        }
        if (!IsConnected) OnDown("no server answered");
    }

    /// <summary>Reports a failure seen by a user of the connection (a publish or stream call); once per outage.</summary>
    public void OnDown(string why)
    {
        lock (_lock)
        {
            if (_reportedDown) return;
            _reportedDown = true;
        }
        _logger.LogWarning(_everConnected
            ? "NATS {Servers}: {Why}; detections are journaled and served locally, export resumes from the cursor when it is back (retrying with backoff)"
            : "NATS {Servers} unreachable ({Why}); detecting and journaling locally, export starts when it is reachable (retrying with backoff)",
            Servers, why);
    }

    /// <summary>The connection works again (connected, or a publish was acknowledged after failures).</summary>
    public void OnHealthy()
    {
        bool wasDown;
        lock (_lock)
        {
            wasDown = _reportedDown;
            _reportedDown = false;
            _everConnected = true;
        }
        if (wasDown) _logger.LogWarning("NATS {Servers} reachable again; export resumes from the journal's cursor", Servers);
    }

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
