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

    private readonly NatsOpts _opts;
    private Client _current;

    public FleetConnection(FleetOptions options, ExportOptions export, ILogger<FleetConnection>? logger = null, string clientName = "sentinel-agent")
    {
        Options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _opts = options.ToNatsOpts(clientName) with { RequestTimeout = export.AckTimeout, CommandTimeout = export.AckTimeout };
        _current = Open();
    }

    public FleetOptions Options { get; }
    public NatsConnection Connection => Volatile.Read(ref _current).Connection;
    public NatsJSContext JetStream => Volatile.Read(ref _current).JetStream;
    public bool IsConnected => Connection.ConnectionState == NatsConnectionState.Open;
    public string Servers => string.Join(",", Options.Servers);

    /// <summary>
    /// Counts lost links. The client reconnects by itself, often between two publishes: a user that needs every
    /// publish on one unbroken link (the exporter's ordering) compares this before and after.
    /// </summary>
    public long Disconnects => Interlocked.Read(ref _disconnects);

    private long _disconnects;

    private Client Open()
    {
        var connection = new NatsConnection(_opts);
        connection.ConnectionOpened += (_, _) => { OnHealthy(); return ValueTask.CompletedTask; };
        connection.ConnectionDisconnected += (sender, _) =>
        {
            // A replaced connection's late event says nothing about the current link.
            if (!ReferenceEquals(sender, Volatile.Read(ref _current)?.Connection)) return ValueTask.CompletedTask;
            Interlocked.Increment(ref _disconnects);
            OnDown("connection lost");
            return ValueTask.CompletedTask;
        };
        return new Client(connection, new NatsJSContext(connection, new NatsJSOpts(_opts)));
    }

    /// <summary>
    /// Replaces the connection with a fresh one. After a failed publish the old client may still hold publishes it
    /// would replay on reconnect, ahead of (and out of order with) the republish from the cursor: they go with it.
    /// </summary>
    public async Task ResetAsync()
    {
        NatsConnection old;
        lock (_lock)
        {
            old = _current.Connection;
            _current = Open();
            _connect = null;
        }
        await old.DisposeAsync().ConfigureAwait(false);
        EnsureConnecting();
    }

    /// <summary>Starts connecting (once); returns at once. The client keeps retrying with backoff in the background.</summary>
    public void EnsureConnecting()
    {
        lock (_lock) _connect ??= ConnectAsync();
    }

    private async Task ConnectAsync()
    {
        // With retry-on-initial-connect the client's connect only returns once a server answers: watch it instead.
        var connect = Connection.ConnectAsync().AsTask();
        var first = await Task.WhenAny(connect, Task.Delay(InitialConnectGrace)).ConfigureAwait(false);
        if (first == connect && connect.Exception is { } ex) OnDown(ex.InnerException?.Message ?? ex.Message);
        else if (!IsConnected) OnDown($"no server answered within {InitialConnectGrace.TotalSeconds:0} s");
        await connect.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private static readonly TimeSpan InitialConnectGrace = TimeSpan.FromSeconds(5);

    /// <summary>Completes once the connection is open (it may drop again at any time).</summary>
    public async Task WaitConnectedAsync(CancellationToken cancellationToken)
    {
        EnsureConnecting();
        while (!IsConnected) await Task.Delay(100, cancellationToken).ConfigureAwait(false);
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

    private sealed record Client(NatsConnection Connection, NatsJSContext JetStream);
}
