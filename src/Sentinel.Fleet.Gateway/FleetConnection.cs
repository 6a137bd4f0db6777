using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Sentinel.Fleet.Gateway;

/// <summary>The gateway's one NATS connection and JetStream context. Connecting never blocks start: it retries in the background.</summary>
public sealed class FleetConnection : IHostedService, IAsyncDisposable
{
    private readonly ILogger<FleetConnection> _logger;
    private int _disconnectedLogged;

    public FleetConnection(GatewayOptions options, ILogger<FleetConnection> logger)
    {
        _logger = logger;
        Options = options.Fleet;
        Connection = new NatsConnection(options.Fleet.ToNatsOpts("sentinel-gateway"));
        JetStream = new NatsJSContext(Connection);
        Connection.ConnectionDisconnected += (_, _) =>
        {
            if (Interlocked.Exchange(ref _disconnectedLogged, 1) == 0)
                _logger.LogWarning("lost the connection to NATS ({Servers}); reconnecting", string.Join(",", Options.Servers));
            return ValueTask.CompletedTask;
        };
        Connection.ConnectionOpened += (_, _) =>
        {
            Interlocked.Exchange(ref _openedAtTicks, DateTimeOffset.UtcNow.UtcTicks);
            if (Interlocked.Exchange(ref _disconnectedLogged, 0) == 1) _logger.LogWarning("reconnected to NATS");
            return ValueTask.CompletedTask;
        };
    }

    public FleetOptions Options { get; }
    public NatsConnection Connection { get; }
    public NatsJSContext JetStream { get; }
    public bool Connected => Connection.ConnectionState == NatsConnectionState.Open;

    /// <summary>When the connection last opened (first connect or reconnect): what was read before may have gaps after.</summary>
    public DateTimeOffset OpenedAt => new(Interlocked.Read(ref _openedAtTicks), TimeSpan.Zero);

    private long _openedAtTicks = DateTimeOffset.MaxValue.UtcTicks;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // RetryOnInitialConnect: this returns at once when the servers are down and the client keeps trying.
        try { await Connection.ConnectAsync().ConfigureAwait(false); }
        catch (NatsException ex) { _logger.LogWarning("cannot reach NATS yet ({Error}); retrying in the background", ex.Message); }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The detections stream's state, or null when it does not exist (yet).</summary>
    public async Task<StreamInfo?> DetectionsStreamAsync(CancellationToken cancellationToken)
    {
        try
        {
            var stream = await JetStream.GetStreamAsync(Options.Stream, cancellationToken: cancellationToken).ConfigureAwait(false);
            return stream.Info;
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            return null;
        }
    }

    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
