using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.V1;

namespace Sentinel.Fleet.Gateway;

/// <summary>
/// Every agent the heartbeat stream knows (its last heartbeat per host subject at start, then live), and the
/// silence watch: an agent whose heartbeats stop for 3 of its intervals gets SNT-F001, and SNT-F002 when they
/// resume. The gateway keeps no state of its own: what was already raised is read back from the `_fleet` subject
/// of the detections stream, so a restarted or a later gateway never raises an episode twice.
/// </summary>
public sealed class AgentRegistry(FleetConnection nats, GatewayOptions options, TimeProvider clock, ILogger<AgentRegistry> logger)
    : BackgroundService
{
    private sealed class Agent
    {
        public required Heartbeat Last;
        public DateTimeOffset StoredAt;
        public DateTimeOffset ReceivedAt;
    }

    private readonly record struct Raised(bool Silent, long HeartbeatTimeNs);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Agent> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Raised> _raised = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Agent> _missed = new(StringComparer.Ordinal); // silences that ended before a check saw them
    private volatile bool _heartbeatsCaughtUp, _fleetEventsCaughtUp;
    private long _skippedHeartbeats, _raisedCount, _checks;

    public long SkippedHeartbeats => Interlocked.Read(ref _skippedHeartbeats);

    /// <summary>Fleet events this gateway published (its duplicates included: the stream stored those once).</summary>
    public long RaisedCount => Interlocked.Read(ref _raisedCount);

    /// <summary>Completed silence checks (each after both streams were read): a test's "the gateway has looked".</summary>
    public long Checks => Interlocked.Read(ref _checks);

    /// <summary>True once the stored heartbeats and fleet events have been read: only then does the gateway raise anything.</summary>
    public bool Ready => _heartbeatsCaughtUp && _fleetEventsCaughtUp;

    public IReadOnlyList<AgentInfo> Snapshot()
    {
        var now = clock.GetUtcNow();
        lock (_lock)
            return _agents.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => new AgentInfo
            {
                HostId = a.Key, LastHeartbeat = a.Value.Last, LastSeen = Timestamp.FromDateTimeOffset(a.Value.StoredAt),
                Silent = IsOverdue(a.Value, now),
            }).ToList();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(
            Retrying("heartbeats", FollowHeartbeatsAsync, stoppingToken),
            Retrying("fleet events", FollowFleetEventsAsync, stoppingToken),
            WatchAsync(stoppingToken));

    private int _saidReady;

    private void SayReady()
    {
        if (!Ready || Interlocked.Exchange(ref _saidReady, 1) == 1) return;
        int agents;
        lock (_lock) agents = _agents.Count;
        logger.LogInformation("read the stored heartbeats ({Agents} agents) and fleet events; watching for silent agents", agents);
    }

    private static TimeSpan Interval(Heartbeat hb) =>
        hb.IntervalMs == 0 ? GatewayOptions.DefaultHeartbeatInterval : TimeSpan.FromMilliseconds(hb.IntervalMs);

    private static bool IsOverdue(Agent a, DateTimeOffset now) =>
        !a.Last.Stopping && now > a.StoredAt + GatewayOptions.SilentAfterIntervals * Interval(a.Last);

    private async Task FollowHeartbeatsAsync(CancellationToken cancellationToken)
    {
        await EnsureHeartbeatStreamAsync(cancellationToken).ConfigureAwait(false);
        var start = new TailStart(FleetSubjects.AllHeartbeats, 0, LastPerSubject: true);
        await foreach (var msg in StreamTail.ReadAsync(nats.JetStream, GatewayOptions.HeartbeatStream, start, 256, follow: true,
                           () => { _heartbeatsCaughtUp = true; SayReady(); }, logger, cancellationToken).ConfigureAwait(false))
        {
            var host = FleetSubjects.HostOf(msg.Subject);
            Heartbeat? hb = null;
            try
            {
                if (host is not null && msg.Data is { } data) hb = Heartbeat.Parser.ParseFrom(data);
            }
            catch (InvalidProtocolBufferException)
            {
            }
            if (host is null || hb is null || msg.Metadata is not { } meta)
            {
                Interlocked.Increment(ref _skippedHeartbeats);
                logger.LogWarning("skipped a malformed heartbeat on {Subject}", msg.Subject);
                continue;
            }
            lock (_lock)
            {
                // A silence that ended between two checks is still a silence: the gap itself is the evidence.
                // Only when this gateway was connected all along: heartbeats it could not read are not the agent's silence.
                if (_agents.TryGetValue(host, out var previous) && IsOverdue(previous, meta.Timestamp) && previous.ReceivedAt >= nats.OpenedAt)
                    _missed[host] = previous;
                _agents[host] = new Agent { Last = hb, StoredAt = meta.Timestamp, ReceivedAt = clock.GetUtcNow() };
            }
        }
    }

    /// <summary>The heartbeat stream is created by whoever comes first, agent or gateway, with the same settings.</summary>
    private async Task EnsureHeartbeatStreamAsync(CancellationToken cancellationToken)
    {
        try
        {
            await nats.JetStream.GetStreamAsync(GatewayOptions.HeartbeatStream, cancellationToken: cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
        }
        var replicas = (await nats.DetectionsStreamAsync(cancellationToken).ConfigureAwait(false))?.Config.NumReplicas ?? 1;
        try
        {
            // The same settings the agents' exporter creates it with, whoever comes first.
            await nats.JetStream.CreateStreamAsync(Sentinel.Fleet.Export.StreamProvisioner.HeartbeatsConfig(replicas), cancellationToken).ConfigureAwait(false);
            logger.LogInformation("created the heartbeat stream {Stream} (replicas {Replicas})", GatewayOptions.HeartbeatStream, replicas);
        }
        catch (NatsJSApiException ex) when (ex.Error.ErrCode == 10058) // created meanwhile by someone else
        {
        }
    }

    private async Task FollowFleetEventsAsync(CancellationToken cancellationToken)
    {
        if (await nats.DetectionsStreamAsync(cancellationToken).ConfigureAwait(false) is null)
            throw new FleetStreamMissingException(nats.Options.Stream);
        var start = new TailStart(FleetSubjects.Detections(FleetSubjects.FleetHostId), 0);
        await foreach (var msg in StreamTail.ReadAsync(nats.JetStream, nats.Options.Stream, start, 256, follow: true,
                           () => { _fleetEventsCaughtUp = true; SayReady(); }, logger, cancellationToken).ConfigureAwait(false))
        {
            if (msg.Subject != FleetSubjects.Detections(FleetSubjects.FleetHostId) || msg.Data is not { } data) continue;
            Detection d;
            try { d = Detection.Parser.ParseFrom(data); }
            catch (InvalidProtocolBufferException) { continue; }
            if (FleetEvents.Parse(d) is not { } e) continue;
            lock (_lock)
                if (!_raised.TryGetValue(e.HostId, out var known) || known.HeartbeatTimeNs <= e.HeartbeatTimeNs)
                    _raised[e.HostId] = new Raised(e.Silent, e.HeartbeatTimeNs);
        }
    }

    /// <summary>Raises what is due, every check period. Nothing is raised before both streams have been read.</summary>
    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.SilenceCheckPeriod, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!Ready || !nats.Connected) continue;
                foreach (var (host, msgId, detection, raised) in Due())
                {
                    try
                    {
                        var headers = new NatsHeaders { ["Nats-Msg-Id"] = msgId };
                        var ack = await nats.JetStream.PublishAsync(FleetSubjects.Detections(FleetSubjects.FleetHostId), detection.ToByteArray(),
                            headers: headers, cancellationToken: cancellationToken).ConfigureAwait(false);
                        // A duplicate ack means another gateway stored it first: the same outcome.
                        if (ack.Error is { } error) throw new NatsJSException($"{error.Code} {error.Description}");
                        Interlocked.Increment(ref _raisedCount);
                        lock (_lock)
                            if (!_raised.TryGetValue(host, out var known) || known.HeartbeatTimeNs <= raised.HeartbeatTimeNs)
                                _raised[host] = raised;
                        logger.LogWarning("{Message}", detection.Message);
                    }
                    catch (Exception ex) when (ex is NatsException or NatsJSException)
                    {
                        logger.LogWarning("cannot publish {RuleId} for {Host} yet: {Error}", detection.RuleId, host, ex.Message);
                    }
                }
                Interlocked.Increment(ref _checks);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private List<(string Host, string MsgId, Detection Detection, Raised Raised)> Due()
    {
        var now = clock.GetUtcNow();
        var due = new List<(string, string, Detection, Raised)>();
        lock (_lock)
        {
            foreach (var (host, agent) in _agents)
            {
                var time = FleetEvents.HeartbeatTimeNs(agent.Last, agent.StoredAt);
                var known = _raised.TryGetValue(host, out var r) ? r : (Raised?)null;
                if (_missed.TryGetValue(host, out var missed))
                {
                    if (known is { } k && k.HeartbeatTimeNs >= FleetEvents.HeartbeatTimeNs(missed.Last, missed.StoredAt))
                    {
                        _missed.Remove(host); // raised already, by this gateway or another
                    }
                    else
                    {
                        // First the silence, then (next check, once it is known raised) the return.
                        due.Add(Silence(host, missed));
                        continue;
                    }
                }
                // A heartbeat newer than the raised silence is a return, even if the agent went silent again since:
                // the return first, the new silence at the next check.
                if (known is { Silent: true } s && s.HeartbeatTimeNs < time)
                    due.Add((host, FleetEvents.BackMessageId(host, time), FleetEvents.Back(host, agent.Last, agent.StoredAt, s.HeartbeatTimeNs),
                        new Raised(false, time)));
                // This heartbeat's silence is raised once; a later silence (after a heartbeat) is a new episode.
                else if (IsOverdue(agent, now) && known is not { Silent: true })
                    due.Add(Silence(host, agent));
            }
        }
        return due;
    }

    private static (string, string, Detection, Raised) Silence(string host, Agent agent)
    {
        var time = FleetEvents.HeartbeatTimeNs(agent.Last, agent.StoredAt);
        return (host, FleetEvents.SilentMessageId(host, time), FleetEvents.Silent(host, agent.Last, agent.StoredAt, Interval(agent.Last)),
            new Raised(true, time));
    }

    /// <summary>Runs a follower until shutdown, starting it again (with backoff) whenever NATS or the stream fails it.</summary>
    private async Task Retrying(string what, Func<CancellationToken, Task> follow, CancellationToken cancellationToken)
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        string? lastError = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await follow(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Whatever NATS or a stream does, the follower starts again: the gateway never stops over it.
                // Said once per distinct error, not once per retry.
                if (ex.Message != lastError) logger.LogWarning("reading {What}: {Error}; retrying", what, ex.Message);
                lastError = ex.Message;
            }
            try { await Task.Delay(backoff, clock, cancellationToken).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
        }
    }
}

public sealed class FleetStreamMissingException(string stream)
    : Exception($"the stream {stream} does not exist yet: it is created by the first agent that exports (sentinel run --nats)");
