using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.JetStream;
using Sentinel.Fleet.Export;
using Sentinel.Server;
using Sentinel.Server.Journal;
using Sentinel.V1;

namespace Sentinel.Fleet.Liveness;

/// <summary>
/// Publishes a sentinel.v1.Heartbeat to sentinel.v1.heartbeat.&lt;host-id&gt; every interval (5 s by default) into the
/// SENTINEL_HEARTBEATS stream, which keeps the last one per host. The last heartbeat of an orderly stop says
/// stopping=true, so gateways can tell a stop from a kill. A heartbeat that cannot be sent is skipped, not queued:
/// a late heartbeat would claim liveness for a time that has passed.
/// </summary>
public sealed class HeartbeatPublisher(
    FleetConnection nats, ExportOptions options, DetectionJournal journal, AgentStatusBuilder status,
    IServiceProvider services, ILogger<HeartbeatPublisher>? logger = null) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;
    private readonly CancellationTokenSource _stop = new();
    private readonly string _subject = FleetSubjects.Heartbeat(journal.HostId);
    private Task? _loop;
    private bool _provisioned;
    private long _sent;

    public long Sent => Interlocked.Read(ref _sent);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        nats.EnsureConnecting();
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is null) return;
        _stop.Cancel();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _loop = null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        await TryPublishAsync(stopping: true, timeout.Token).ConfigureAwait(false);
    }

    private async Task RunAsync(CancellationToken stop)
    {
        // One per interval; after a slow publish the next waits at least half an interval, never a catch-up burst.
        var interval = options.HeartbeatInterval;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
                {
                    timeout.CancelAfter(interval);
                    await TryPublishAsync(stopping: false, timeout.Token).ConfigureAwait(false);
                }
                var wait = interval - System.Diagnostics.Stopwatch.GetElapsedTime(started);
                await Task.Delay(wait > interval / 2 ? wait : interval / 2, stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task TryPublishAsync(bool stopping, CancellationToken ct)
    {
        if (!nats.IsConnected) return;
        try
        {
            if (!_provisioned)
            {
                await StreamProvisioner.EnsureHeartbeatsAsync(nats.JetStream, options.Replicas, ct).ConfigureAwait(false);
                _provisioned = true;
            }
            var ack = await nats.JetStream.PublishAsync(_subject, Build(stopping).ToByteArray(), cancellationToken: ct).ConfigureAwait(false);
            if (ack.Error is { } error) throw new NatsJSException(error.Description ?? "heartbeat refused");
            Interlocked.Increment(ref _sent);
        }
        catch (FleetConfigurationException ex)
        {
            _logger.LogError("heartbeats stopped: {Error}", ex.Message);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The exporter reports outages once; a skipped heartbeat is what a gateway measures.
            _logger.LogDebug(ex, "heartbeat skipped");
        }
    }

    /// <summary>The heartbeat from the same snapshot GetStatus serves.</summary>
    public Heartbeat Build(bool stopping)
    {
        var s = status.Build();
        var pack = services.GetService<IRulePackInfo>();
        return new Heartbeat
        {
            HostId = journal.HostId,
            Version = s.Version,
            Time = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            IntervalMs = (uint)options.HeartbeatInterval.TotalMilliseconds,
            RulePackVersion = pack?.Version ?? "",
            RulePackHash = pack?.Hash ?? "",
            Strategy = s.Probes?.Strategy ?? AttachStrategy.Unspecified,
            Counters = s.Counters ?? new Counters(),
            JournalId = journal.JournalId,
            JournalLastSequence = journal.Range.Last,
            ExportAckedSequence = journal.ExportCursor ?? 0,
            ExportLostToRetention = (ulong)journal.ExportLost,
            StartedAt = s.StartedAt,
            Stopping = stopping,
        };
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        // DI disposes an instance once per registration that hands it out (the service, the hosted service and
        // the status contributor are the same object), so this runs more than once.
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stop.Dispose();
    }
}
