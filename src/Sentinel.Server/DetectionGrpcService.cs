using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sentinel.Contracts.Grpc;
using Sentinel.Server.Auth;
using Sentinel.Server.Journal;
using Sentinel.Server.Streaming;
using Sentinel.V1;

namespace Sentinel.Server;

/// <summary>
/// sentinel.v1.DetectionService. StreamDetections writes the journal's stored bytes (<see cref="JournalEntry"/>): a
/// client costs no decode and re-encode, however many follow.
/// </summary>
public sealed class DetectionGrpcService(
    DetectionJournal journal,
    EventBroadcaster broadcaster,
    StreamClientRegistry clients,
    AgentStatusBuilder status,
    ServerOptions options,
    IHostApplicationLifetime lifetime,
    IServiceProvider services) : WireDetectionServiceBase
{
    private const int PageSize = 512;
    private const int MaxRuleIdLength = 256;

    public override async Task StreamDetections(StreamDetectionsRequest request, IServerStreamWriter<WireDetection> responseStream, ServerCallContext context)
    {
        var filter = ValidateFilter(request);
        var range = journal.Range;
        if (request.AfterSequence > range.Last)
            throw new RpcException(new Status(StatusCode.OutOfRange,
                $"after_sequence {request.AfterSequence} is beyond the last committed sequence {range.Last}"));
        // after_sequence 0 means "from the start of what is retained"; any other value must still be retained.
        if (request.AfterSequence != 0 && request.AfterSequence + 1 < range.First)
            throw Pruned(request.AfterSequence, range.First);

        var client = clients.Add(StreamKind.Detections, context.Peer, Identity(context));
        try
        {
            // Without follow the stream ends at what was committed when the call arrived.
            var end = request.Follow ? ulong.MaxValue : range.Last;
            var cursor = Math.Max(request.AfterSequence, range.First == 0 ? 0 : range.First - 1);
            var page = new List<JournalEntry>(PageSize);
            var matching = new List<JournalEntry>(PageSize);
            // A follower ends when the agent stops, so shutdown never waits on it; the client resumes elsewhere or later.
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
            var token = stopping.Token;
            while (cursor < end)
            {
                page.Clear();
                journal.ReadEntriesAfter(cursor, PageSize, page);
                if (page.Count == 0)
                {
                    if (!request.Follow) break;
                    await journal.WaitForCommitAsync(cursor, token).ConfigureAwait(false);
                    continue;
                }
                // Retention pruned past this client while it lagged: say so rather than skip silently.
                if (page[0].Sequence != cursor + 1) throw Pruned(cursor, page[0].Sequence);

                matching.Clear();
                foreach (var d in page)
                {
                    if (d.Sequence > end) break;
                    cursor = d.Sequence;
                    if (filter(d)) matching.Add(d);
                }
                for (var i = 0; i < matching.Count; i++)
                {
                    // Buffer within a page and flush after its last detection: one flush per page, not per detection.
                    responseStream.WriteOptions = i == matching.Count - 1 ? null : BufferHint;
                    await responseStream.WriteAsync(matching[i], token).ConfigureAwait(false);
                    client.AddSent();
                    client.SetLastSequence(matching[i].Sequence);
                }
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The client went away: nothing to report.
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            throw ShuttingDown();
        }
        finally
        {
            clients.Remove(client);
        }
    }

    private static readonly WriteOptions BufferHint = new(WriteFlags.BufferHint);

    public override async Task StreamEvents(StreamEventsRequest request, IServerStreamWriter<Event> responseStream, ServerCallContext context)
    {
        var capacity = request.BufferSize == 0 ? options.EventBufferSize : (int)Math.Min(request.BufferSize, 1_000_000u);
        var client = clients.Add(StreamKind.Events, context.Peer, Identity(context));
        using var subscription = broadcaster.Subscribe(client, capacity);
        try
        {
            var reader = subscription.Reader;
            using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
            var token = stopping.Token;
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var evt))
                {
                    responseStream.WriteOptions = reader.Count > 0 ? BufferHint : null;
                    await responseStream.WriteAsync(evt, token).ConfigureAwait(false);
                    client.AddSent();
                }
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            throw ShuttingDown();
        }
        finally
        {
            context.ResponseTrailers.Add("sentinel-dropped-events", client.Dropped.ToString());
            clients.Remove(client);
        }
    }

    public override Task<ListRulesResponse> ListRules(ListRulesRequest request, ServerCallContext context)
    {
        var response = new ListRulesResponse();
        foreach (var rule in Catalog)
        {
            var proto = new Rule
            {
                Id = rule.Id, Version = rule.Version, Name = rule.Name, Description = rule.Description,
                Severity = (Severity)rule.Severity, File = rule.File,
            };
            proto.MitreTactics.Add(rule.MitreTactics);
            proto.MitreTechniques.Add(rule.MitreTechniques);
            proto.Tags.Add(rule.Tags);
            proto.Events.Add(rule.Events);
            response.Rules.Add(proto);
        }
        return Task.FromResult(response);
    }

    public override Task<AgentStatus> GetStatus(GetStatusRequest request, ServerCallContext context) =>
        Task.FromResult(status.Build());

    private IReadOnlyList<Events.RuleInfo> Catalog => services.GetService<IRuleCatalog>()?.Rules ?? [];

    private Func<JournalEntry, bool> ValidateFilter(StreamDetectionsRequest request)
    {
        if (!Enum.IsDefined(request.MinSeverity))
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"min_severity {(int)request.MinSeverity} is not a known severity"));
        var minSeverity = request.MinSeverity;
        if (request.RuleIds.Count == 0)
            return d => d.Severity >= minSeverity;

        if (request.RuleIds.Count > options.MaxRuleIds)
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"rule_ids names {request.RuleIds.Count} rules; at most {options.MaxRuleIds} are allowed"));
        var known = Catalog.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        var ruleIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var id in request.RuleIds)
        {
            if (id.Length is 0 or > MaxRuleIdLength)
                throw new RpcException(new Status(StatusCode.InvalidArgument, "rule_ids contains an empty or over-long id"));
            // Known means loaded now, or seen in the journal (a rule since removed still has history).
            if (!known.Contains(id) && !journal.KnowsRule(id))
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"unknown rule id '{Truncate(id)}'"));
            ruleIds.Add(id);
        }
        return d => d.Severity >= minSeverity && ruleIds.Contains(d.RuleId);
    }

    private static RpcException ShuttingDown() =>
        new(new Status(StatusCode.Unavailable, "the agent is shutting down; reconnect and resume from the last sequence received"));

    private static RpcException Pruned(ulong after, ulong earliest) =>
        new(new Status(StatusCode.OutOfRange,
            $"detections after sequence {after} were pruned by retention; the earliest available sequence is {earliest}"));

    private static string Identity(ServerCallContext context) =>
        context.UserState.TryGetValue(ClientAuthenticator.IdentityKey, out var identity) ? (string)identity : "";

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";
}
