using Sentinel.Server;

namespace Sentinel.Cli.Agent;

/// <summary>
/// Hands the rule engine's sampled evaluation times to the metrics histogram. The engine is built before the
/// host (so a broken rule fails fast), the metrics inside it: this bridges the two once both exist.
/// </summary>
internal sealed class RuleLatencyRelay
{
    private SentinelMetrics? _metrics;

    public void Attach(SentinelMetrics metrics) => Volatile.Write(ref _metrics, metrics);

    public void Observe(string ruleId, TimeSpan elapsed) => Volatile.Read(ref _metrics)?.ObserveRuleEvaluation(ruleId, elapsed);
}
