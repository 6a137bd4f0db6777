using Sentinel.Rules.Runtime;

namespace Sentinel.Rules;

public sealed record RuleEngineOptions
{
    /// <summary>Where compiled rules are cached; null means <see cref="Compilation.RuleCache.DefaultDirectory"/>.</summary>
    public string? CacheDirectory { get; init; }
    public bool UseCache { get; init; } = true;
    public BudgetLimits Budget { get; init; } = BudgetLimits.Default;
    /// <summary>The size of each finding and the detection rate of each rule.</summary>
    public OutputLimits Output { get; init; } = OutputLimits.Default;
    /// <summary>A rule that throws this many times is quarantined.</summary>
    public int QuarantineAfterErrors { get; init; } = 5;
    /// <summary>Rule parameters as "SNT-0005.threshold" → "10".</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();
    /// <summary>Host facts given to rules; null means <see cref="HostInfo.Detect"/>.</summary>
    public HostInfo? Host { get; init; }
    /// <summary>How long file changes settle before a reload (editors write in several steps).</summary>
    public TimeSpan ReloadDebounce { get; init; } = TimeSpan.FromMilliseconds(250);
    /// <summary>One evaluation in this many is timed for the latency figures (timing every one costs more than a rule).</summary>
    public int LatencySampleInterval { get; init; } = 64;
    /// <summary>Called with each sampled evaluation time (rule id, elapsed), e.g. to feed a metrics histogram.</summary>
    public Action<string, TimeSpan>? LatencyObserver { get; init; }

    public static RuleEngineOptions Default { get; } = new();
}
