using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.Contracts.Grpc;
using Sentinel.Server;
using Sentinel.Server.Auth;
using Sentinel.Server.Streaming;
using Sentinel.V1;

namespace Sentinel.Fleet.Gateway;

/// <summary>
/// sentinel.v1.DetectionService over the fleet's JetStream stream. Stateless: every call reads the stream through
/// its own ordered consumer from the client's cursor (the stream sequence), so any gateway answers any cursor.
/// </summary>
public sealed class GatewayDetectionService(
    FleetConnection nats,
    GatewayOptions options,
    StreamDecoder decoder,
    AgentRegistry agents,
    StreamClientRegistry clients,
    AgentStatusBuilder status,
    IHostApplicationLifetime lifetime,
    ILogger<GatewayDetectionService> logger) : WireDetectionServiceBase
{
    private const int MaxRuleIdLength = 256;
    private const int MaxHostIds = 1024;
    private static readonly TimeSpan PruneCheckPeriod = TimeSpan.FromSeconds(1);
    private static readonly WriteOptions BufferHint = new(WriteFlags.BufferHint);
    private const int FlushEvery = 64;

    public override async Task StreamDetections(StreamDetectionsRequest request, IServerStreamWriter<WireDetection> responseStream, ServerCallContext context)
    {
        var (filter, hosts, passAll) = ValidateFilter(request);
        var detection = new FleetDetection(); // one per call: each write is serialized before WriteAsync completes
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var token = stopping.Token;
        var client = clients.Add(StreamKind.Detections, context.Peer, Identity(context));
        try
        {
            var state = (await StreamInfoAsync(token).ConfigureAwait(false)).State;
            var (first, last) = Range(state);
            if (request.AfterSequence > last)
                throw new RpcException(new Status(StatusCode.OutOfRange,
                    $"after_sequence {request.AfterSequence} is beyond the last sequence {last} of the stream {options.Fleet.Stream}"));
            if (request.AfterSequence != 0 && request.AfterSequence + 1 < first) throw Pruned(request.AfterSequence, first);
            // Without follow the stream ends at what was stored when the call arrived.
            var end = request.Follow ? ulong.MaxValue : last;
            if (request.AfterSequence >= end) return;

            // One host is filtered by NATS; several are filtered here (nats-server 2.9 takes one filter subject).
            var subject = hosts is { Count: 1 } ? FleetSubjects.Detections(hosts.First()) : FleetSubjects.AllDetections;
            var cursor = request.AfterSequence;
            var unflushed = 0;
            var lastPruneCheck = DateTime.MinValue;
            await foreach (var msg in StreamTail.ReadAsync(nats.JetStream, options.Fleet.Stream, new TailStart(subject, request.AfterSequence),
                               options.ClientBatch, request.Follow, null, logger, token)
                               .ConfigureAwait(false))
            {
                if (msg.Metadata is not { } meta) continue;
                var sequence = meta.Sequence.Stream;
                if (sequence > end) break;
                // A gap is normal under a subject filter, but it may also be retention pruning past a lagging client:
                // say so rather than skip silently. Unfiltered, every gap is checked; filtered, at most once a second.
                if (sequence > cursor + 1 && cursor != 0 && (subject == FleetSubjects.AllDetections || DateTime.UtcNow - lastPruneCheck > PruneCheckPeriod))
                {
                    lastPruneCheck = DateTime.UtcNow;
                    var now = Range((await StreamInfoAsync(token).ConfigureAwait(false)).State);
                    if (now.First > cursor + 1) throw Pruned(cursor, now.First);
                }
                cursor = sequence;
                if (decoder.TryDecode(msg, sequence, detection) && filter(detection))
                {
                    // Batch writes while NATS has more for this client, flushing every FlushEvery: a buffered write is
                    // held in the response pipe without backpressure, so an unflushed run would grow with the stream.
                    responseStream.WriteOptions = passAll && meta.NumPending > 0 && sequence < end && ++unflushed % FlushEvery != 0 ? BufferHint : null;
                    await responseStream.WriteAsync(detection, token).ConfigureAwait(false);
                    client.AddSent();
                    client.SetLastSequence(sequence);
                }
                if (sequence >= end) break;
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable,
                "the gateway is shutting down; reconnect (to any gateway) and resume from the last sequence received"));
        }
        catch (Exception ex) when (ex is NatsException or NatsJSException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable,
                $"reading the stream {options.Fleet.Stream} failed ({ex.Message}); resume from the last sequence received"));
        }
        finally
        {
            clients.Remove(client);
        }
    }

    public override Task<ListAgentsResponse> ListAgents(ListAgentsRequest request, ServerCallContext context)
    {
        var response = new ListAgentsResponse();
        response.Agents.Add(agents.Snapshot());
        return Task.FromResult(response);
    }

    public override async Task<AgentStatus> GetStatus(GetStatusRequest request, ServerCallContext context)
    {
        var s = status.Build();
        s.Probes = null;
        s.Journal = null;
        var agentList = agents.Snapshot();
        var gateway = new GatewayStatus
        {
            Connected = nats.Connected, Stream = options.Fleet.Stream, HeartbeatStream = GatewayOptions.HeartbeatStream,
            SkippedMalformed = (ulong)decoder.Skipped, SkippedHeartbeats = (ulong)agents.SkippedHeartbeats,
            Agents = (uint)agentList.Count, SilentAgents = (uint)agentList.Count(a => a.Silent),
        };
        gateway.Servers.Add(options.Fleet.Servers);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            var info = await StreamInfoAsync(timeout.Token).ConfigureAwait(false);
            (gateway.FirstSequence, gateway.LastSequence) = Range(info.State);
            gateway.Messages = (ulong)info.State.Messages;
            gateway.Bytes = (ulong)info.State.Bytes;
        }
        catch (RpcException ex)
        {
            gateway.LastError = ex.Status.Detail;
        }
        catch (OperationCanceledException) when (!context.CancellationToken.IsCancellationRequested)
        {
            gateway.LastError = $"no answer from NATS about the stream {options.Fleet.Stream} within 5 s";
        }
        s.Gateway = gateway;
        return s;
    }

    public override Task<ListRulesResponse> ListRules(ListRulesRequest request, ServerCallContext context) =>
        throw new RpcException(new Status(StatusCode.FailedPrecondition,
            "this is a fleet gateway: it runs no rules. Ask an agent (sentinel rules list --server AGENT), or see each agent's rule pack in `sentinel fleet status`"));

    public override Task StreamEvents(StreamEventsRequest request, IServerStreamWriter<Event> responseStream, ServerCallContext context) =>
        throw new RpcException(new Status(StatusCode.Unimplemented,
            "this is a fleet gateway: raw events are live and per host and never leave the agent; stream them from the agent itself"));

    private async Task<StreamInfo> StreamInfoAsync(CancellationToken cancellationToken)
    {
        StreamInfo? info;
        try
        {
            info = await nats.DetectionsStreamAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NatsException or NatsJSException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"NATS is unreachable ({ex.Message}); retry"));
        }
        return info ?? throw new RpcException(new Status(StatusCode.Unavailable, new FleetStreamMissingException(options.Fleet.Stream).Message));
    }

    /// <summary>The retained range; first &gt; last when the stream is empty.</summary>
    private static (ulong First, ulong Last) Range(StreamState state) =>
        state.Messages == 0 ? (state.LastSeq + 1, state.LastSeq) : (state.FirstSeq, state.LastSeq);

    private (Func<FleetDetection, bool> Filter, HashSet<string>? Hosts, bool PassAll) ValidateFilter(StreamDetectionsRequest request)
    {
        if (!Enum.IsDefined(request.MinSeverity))
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"min_severity {(int)request.MinSeverity} is not a known severity"));
        if (request.RuleIds.Count > options.Server.MaxRuleIds)
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"rule_ids names {request.RuleIds.Count} rules; at most {options.Server.MaxRuleIds} are allowed"));
        if (request.HostIds.Count > MaxHostIds)
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"host_ids names {request.HostIds.Count} hosts; at most {MaxHostIds} are allowed"));
        // The gateway has no rule catalog: any well-formed id is accepted (rules differ between agents and over time).
        foreach (var id in request.RuleIds)
            if (id.Length is 0 or > MaxRuleIdLength)
                throw new RpcException(new Status(StatusCode.InvalidArgument, "rule_ids contains an empty or over-long id"));
        foreach (var host in request.HostIds)
            if (host != FleetSubjects.FleetHostId && HostIdentity.Problem(host) is { } problem)
                throw new RpcException(new Status(StatusCode.InvalidArgument, problem));

        var minSeverity = request.MinSeverity;
        var rules = request.RuleIds.Count == 0 ? null : request.RuleIds.ToHashSet(StringComparer.Ordinal);
        var hosts = request.HostIds.Count == 0 ? null : request.HostIds.ToHashSet(StringComparer.Ordinal);
        var passAll = rules is null && minSeverity == Severity.Unspecified && hosts is not { Count: > 1 };
        return (d => d.Severity >= minSeverity && (rules is null || d.RuleIdIn(rules)) && (hosts is null || hosts.Contains(d.HostId)),
            hosts, passAll);
    }

    private static RpcException Pruned(ulong after, ulong earliest) =>
        new(new Status(StatusCode.OutOfRange,
            $"detections after sequence {after} are no longer in the stream (retention); the earliest available sequence is {earliest}"));

    private static string Identity(ServerCallContext context) =>
        context.UserState.TryGetValue(ClientAuthenticator.IdentityKey, out var identity) ? (string)identity : "";
}
