using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Events;
using Sentinel.Server.Journal;
using Sentinel.V1;

namespace Sentinel.Server;

/// <summary>Adds what a component knows to GetStatus (probes, rules, pipeline, journal, clients). Registered in DI.</summary>
public interface IAgentStatusContributor
{
    void Contribute(AgentStatus status);
}

/// <summary>The rules ListRules reports. The rule engine registers one; without it the list is empty.</summary>
public interface IRuleCatalog
{
    IReadOnlyList<RuleInfo> Rules { get; }
}

/// <summary>Builds GetStatus from the contributors; the metrics endpoint reads the same snapshot.</summary>
public sealed class AgentStatusBuilder(IEnumerable<IAgentStatusContributor> contributors, IServiceProvider services)
{
    private static readonly DateTimeOffset StartedAt = System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime();
    private readonly IAgentStatusContributor[] _contributors = contributors.ToArray();

    public AgentStatus Build()
    {
        var status = new AgentStatus
        {
            Version = typeof(AgentStatusBuilder).Assembly.GetName().Version?.ToString(3) ?? "0.0.0",
            Host = Environment.MachineName,
            StartedAt = Timestamp.FromDateTimeOffset(StartedAt),
            Probes = new ProbeStatus(),
            Counters = new V1.Counters(),
            Journal = new JournalStatus(),
        };
        status.Listen.Add(SentinelServer.BoundAddresses(services));
        foreach (var contributor in _contributors) contributor.Contribute(status);
        return status;
    }
}

internal sealed class JournalStatusContributor(DetectionJournal journal, ServerOptions options) : IAgentStatusContributor
{
    public void Contribute(AgentStatus status)
    {
        var range = journal.Range;
        status.Journal = new JournalStatus
        {
            Path = journal.Path, FirstSequence = range.First, LastSequence = range.Last, SizeBytes = (ulong)journal.FileBytes,
            SyncMode = options.JournalSync.ToString().ToUpperInvariant(), Pruned = (ulong)journal.Pruned,
            JournalId = journal.JournalId,
            Degraded = journal.IsDegraded, DegradedReason = journal.DegradedReason ?? "", Unsaved = (ulong)journal.UnsavedCount,
            MovedAside = journal.MovedAside ?? "",
        };
        status.HostId = journal.HostId;
        // Once a journal has been exported, its cursor and retention losses show even when this run does not export.
        if (journal.ExportCursor is { } cursor)
            status.Export = new ExportStatus
            {
                AckedSequence = cursor, LostToRetention = (ulong)journal.ExportLost,
                Backlog = range.Last > cursor ? range.Last - Math.Max(cursor, range.First - 1) : 0,
            };
    }
}

/// <summary>The pipeline's own counters, when the host runs one.</summary>
internal sealed class PipelineStatusContributor(IServiceProvider services) : IAgentStatusContributor
{
    public void Contribute(AgentStatus status)
    {
        if (services.GetService<PipelineCounters>() is not { } counters) return;
        status.Counters.EventsProcessed = (ulong)counters.Events;
        status.Counters.Detections = (ulong)counters.Detections;
        status.Counters.SinkErrors = (ulong)counters.SinkErrors;
    }
}
