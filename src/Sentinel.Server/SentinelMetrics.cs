using Microsoft.Extensions.DependencyInjection;
using Prometheus;
using Sentinel.Server.Streaming;
using Sentinel.V1;

namespace Sentinel.Server;

/// <summary>
/// The Prometheus metrics, in a registry of their own (one per server, so hosts and tests never share state).
/// Counters the agent already keeps (probes, rules, journal) are read from the GetStatus snapshot at scrape time;
/// histograms are observed as things happen.
/// </summary>
public sealed class SentinelMetrics
{
    private static readonly double[] LatencyBuckets = Histogram.ExponentialBuckets(0.00005, 2, 18); // 50 µs .. ~6.5 s

    private readonly Counter _events, _kernelEvents, _kernelLost, _decodeErrors, _detections, _sinkErrors;
    private readonly Counter _ruleEvaluations, _ruleDetections, _ruleErrors, _droppedEvents, _journalPruned;
    private readonly Counter _foldedCalls, _foldEvents, _lossDetections;
    private readonly Gauge _ruleQuarantined, _streamClients, _journalFirst, _journalLast, _journalBytes;
    private readonly Histogram _ruleLatency, _commitDuration, _deliveryLatency;
    private readonly Counter _exportPublished, _exportErrors, _exportLost;
    private readonly Gauge _exportAcked, _exportBacklog, _exportConnected;

    public SentinelMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var f = Metrics.WithCustomRegistry(Registry);
        _events = f.CreateCounter("sentinel_events_total", "Events the pipeline processed.");
        _kernelEvents = f.CreateCounter("sentinel_kernel_events_total", "Records the probe submitted in the kernel.");
        _kernelLost = f.CreateCounter("sentinel_kernel_lost_events_total", "Records lost in the kernel (ring buffer full).");
        _foldedCalls = f.CreateCounter("sentinel_kernel_folded_calls_total", "Calls the kernel folded while the agent lagged, delivered inside fold events.");
        _foldEvents = f.CreateCounter("sentinel_kernel_fold_events_total", "Fold events delivered (each stands for several identical calls).");
        _lossDetections = f.CreateCounter("sentinel_loss_detections_total", "SNT-0000 events-lost detections raised.");
        _decodeErrors = f.CreateCounter("sentinel_decode_errors_total", "Records that failed to decode.");
        _detections = f.CreateCounter("sentinel_detections_total", "Detections the rules produced.");
        _sinkErrors = f.CreateCounter("sentinel_sink_errors_total", "Pipeline sink failures.");
        _ruleEvaluations = f.CreateCounter("sentinel_rule_evaluations_total", "Rule evaluations.", "rule");
        _ruleDetections = f.CreateCounter("sentinel_rule_detections_total", "Detections per rule.", "rule");
        _ruleErrors = f.CreateCounter("sentinel_rule_errors_total", "Rule evaluation errors.", "rule");
        _ruleQuarantined = f.CreateGauge("sentinel_rule_quarantined", "1 when the rule is quarantined.", "rule");
        _ruleLatency = f.CreateHistogram("sentinel_rule_evaluation_seconds", "Rule evaluation latency.",
            new HistogramConfiguration { LabelNames = ["rule"], Buckets = Histogram.ExponentialBuckets(0.000001, 4, 12) });
        _streamClients = f.CreateGauge("sentinel_stream_clients", "Connected streaming clients.", "kind");
        _droppedEvents = f.CreateCounter("sentinel_stream_dropped_events_total", "StreamEvents events dropped for slow clients.");
        _journalFirst = f.CreateGauge("sentinel_journal_first_sequence", "The earliest retained detection sequence.");
        _journalLast = f.CreateGauge("sentinel_journal_last_sequence", "The last committed detection sequence.");
        _journalBytes = f.CreateGauge("sentinel_journal_size_bytes", "The journal database and WAL on disk.");
        _journalPruned = f.CreateCounter("sentinel_journal_pruned_total", "Detections removed by retention.");
        _exportPublished = f.CreateCounter("sentinel_export_published_total", "Detections the fleet stream acknowledged (duplicates included).");
        _exportErrors = f.CreateCounter("sentinel_export_publish_errors_total", "Failed fleet publishes (retried from the cursor).");
        _exportLost = f.CreateCounter("sentinel_export_lost_to_retention_total", "Detections retention pruned before the fleet stream acknowledged them.");
        _exportAcked = f.CreateGauge("sentinel_export_acked_sequence", "The export cursor: the last journal sequence the stream acknowledged.");
        _exportBacklog = f.CreateGauge("sentinel_export_backlog", "Journaled detections not yet acknowledged by the fleet stream.");
        _exportConnected = f.CreateGauge("sentinel_export_connected", "1 when the exporter is connected to NATS.");
        JournalErrors = f.CreateCounter("sentinel_journal_errors_total", "Failed journal commits (retried).");
        _commitDuration = f.CreateHistogram("sentinel_journal_commit_seconds", "Time to commit one batch, fsync included.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _deliveryLatency = f.CreateHistogram("sentinel_detection_commit_latency_seconds",
            "From the event's time to its detection being committed.", new HistogramConfiguration { Buckets = LatencyBuckets });
    }

    public CollectorRegistry Registry { get; }
    public Counter JournalErrors { get; }

    /// <summary>For the rule engine: one evaluation of one rule took <paramref name="elapsed"/>.</summary>
    public void ObserveRuleEvaluation(string ruleId, TimeSpan elapsed) =>
        _ruleLatencyByRule.GetOrAdd(ruleId, static (id, h) => h.WithLabels(id), _ruleLatency).Observe(elapsed.TotalSeconds);

    // WithLabels allocates its label array per call; the children are cached so the sampled path does not.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Histogram.Child> _ruleLatencyByRule = new(StringComparer.Ordinal);

    internal void OnCommitted(IReadOnlyList<Journal.JournalEntry> batch, TimeSpan commitDuration)
    {
        _commitDuration.Observe(commitDuration.TotalSeconds);
        var now = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).Ticks * 100;
        foreach (var d in batch)
        {
            if (d.EventUnixNs == 0) continue;
            var latency = (now - d.EventUnixNs) / 1e9;
            if (latency >= 0) _deliveryLatency.Observe(latency);
        }
    }

    /// <summary>Refreshes the snapshot-backed metrics; called by the registry right before each scrape.</summary>
    internal void Refresh(AgentStatus status)
    {
        var c = status.Counters;
        _events.IncTo(c.EventsProcessed);
        _kernelEvents.IncTo(c.EventsSeen);
        _kernelLost.IncTo(c.LostInKernel);
        _foldedCalls.IncTo(c.FoldedCalls);
        _foldEvents.IncTo(c.FoldEvents);
        _lossDetections.IncTo(c.LossDetections);
        _decodeErrors.IncTo(c.DecodeErrors);
        _detections.IncTo(c.Detections);
        _sinkErrors.IncTo(c.SinkErrors);
        foreach (var rule in status.Rules)
        {
            _ruleEvaluations.WithLabels(rule.RuleId).IncTo(rule.Evaluations);
            _ruleDetections.WithLabels(rule.RuleId).IncTo(rule.Detections);
            _ruleErrors.WithLabels(rule.RuleId).IncTo(rule.Errors);
            _ruleQuarantined.WithLabels(rule.RuleId).Set(rule.Quarantined ? 1 : 0);
        }
        _streamClients.WithLabels("detections").Set(status.Clients.Count(x => x.Kind == StreamKind.Detections));
        _streamClients.WithLabels("events").Set(status.Clients.Count(x => x.Kind == StreamKind.Events));
        _journalFirst.Set(status.Journal.FirstSequence);
        _journalLast.Set(status.Journal.LastSequence);
        _journalBytes.Set(status.Journal.SizeBytes);
        _journalPruned.IncTo(status.Journal.Pruned);
        if (status.Export is { } export)
        {
            _exportPublished.IncTo(export.Published);
            _exportErrors.IncTo(export.PublishErrors);
            _exportLost.IncTo(export.LostToRetention);
            _exportAcked.Set(export.AckedSequence);
            _exportBacklog.Set(export.Backlog);
            _exportConnected.Set(export.Connected ? 1 : 0);
        }
    }

    internal void Attach(IServiceProvider services)
    {
        var status = services.GetRequiredService<AgentStatusBuilder>();
        var clients = services.GetRequiredService<StreamClientRegistry>();
        Registry.AddBeforeCollectCallback(() =>
        {
            Refresh(status.Build());
            _droppedEvents.IncTo(clients.DroppedEventsTotal);
        });
    }
}
