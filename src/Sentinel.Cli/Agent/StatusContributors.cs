using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.Rules;
using Sentinel.Server;
using Sentinel.V1;

namespace Sentinel.Cli.Agent;

/// <summary>GetStatus: which strategy attached, why the others failed, and the kernel and decode counters.</summary>
internal sealed class ProbeStatusContributor(CaptureService capture) : IAgentStatusContributor
{
    public void Contribute(AgentStatus status)
    {
        if (capture.Source is not { } source) return;
        var probe = source.Probe;
        status.Probes.Strategy = (V1.AttachStrategy)probe.Strategy;
        foreach (var attempt in probe.Attempts)
            status.Probes.Attempts.Add(new ProbeAttempt
            {
                Strategy = (V1.AttachStrategy)attempt.Strategy,
                Attached = attempt.Attached,
                Error = attempt.Attached ? "" : attempt.Detail,
            });
        var kernel = probe.Counters.Snapshot();
        status.Counters.EventsSeen = kernel.Submitted;
        status.Counters.LostInKernel = kernel.Lost;
        status.Counters.DecodeErrors = (ulong)source.Counters.DecodeErrors;
        status.Counters.FoldedCalls = kernel.FoldedCalls;
        status.Counters.FoldEvents = kernel.FoldRecords;
        status.Counters.LossDetections = (ulong)source.LossDetections;
    }
}

/// <summary>GetStatus: per-rule evaluations, detections, errors, quarantine and latency.</summary>
internal sealed class RuleStatusContributor(RuleEngine engine) : IAgentStatusContributor
{
    public void Contribute(AgentStatus status)
    {
        foreach (var rule in engine.Status())
            status.Rules.Add(new V1.RuleStatus
            {
                RuleId = rule.Id,
                Evaluations = (ulong)rule.Evaluations,
                Detections = (ulong)rule.Detections,
                Errors = (ulong)rule.Errors,
                Quarantined = rule.Quarantined,
                QuarantineReason = rule.QuarantineReason ?? "",
                LatencyMaxNs = (ulong)rule.MaxLatencyNs,
            });
        status.RuleLoadErrors.AddRange(engine.Diagnostics.Where(d => d.IsError).Select(d => d.ToString()));
    }
}

/// <summary>ListRules: the rules the engine runs now (hot reload included).</summary>
internal sealed class RuleCatalog(RuleEngine engine) : IRuleCatalog
{
    public IReadOnlyList<RuleInfo> Rules => engine.Rules;
}
