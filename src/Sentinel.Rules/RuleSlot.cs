using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Sentinel.Events;
using Sentinel.Rules.Runtime;

namespace Sentinel.Rules;

/// <summary>
/// One running rule: its instance, counters and quarantine state. Counters are written only by the
/// pipeline thread and read by status snapshots, so plain fields with volatile reads suffice.
/// </summary>
internal sealed class RuleSlot
{
    private readonly LoadedRule _loaded;
    private readonly BudgetLimits _limits;
    private readonly int _quarantineAfter;
    private readonly ILogger _logger;
    private long _evaluations, _detections, _errors, _latencySamples, _latencyTotalTicks, _latencyMaxTicks;
    private long _allocatedSinceWalk;
    private int _untilWalk = WalkEveryEvaluations;
    private volatile string? _quarantineReason;
    private bool _quarantined;
    private volatile string? _lastError;

    public RuleSlot(LoadedRule loaded, Rule rule, RuleInfo info, RuleEngineOptions options, ILogger logger)
    {
        _loaded = loaded;
        IsInstrumented = loaded.IsInstrumented;
        Prefilter = loaded.Prefilter;
        Live = rule;
        Info = info;
        _limits = options.Budget;
        Output = options.Output;
        RateLimiter = new DetectionRateLimiter(options.Output);
        _quarantineAfter = options.QuarantineAfterErrors;
        _logger = logger;
    }

    public RuleInfo Info { get; }
    public string File => _loaded.File;
    public string ContentHash => _loaded.ContentHash;
    public LoadedRule Loaded => _loaded;
    public bool Quarantined => _quarantined;
    public volatile string? ReloadError;

    /// <summary>The rule while it may run; null once quarantined or unloaded (one load and test per event).</summary>
    internal Rule? Live;

    public BudgetLimits Limits => _limits;
    /// <summary>Copied from the loaded rule: read on every evaluation.</summary>
    public readonly bool IsInstrumented;
    /// <summary>Copied from the loaded rule: the events on which it is skipped.</summary>
    public readonly RulePrefilter Prefilter;

    /// <summary>The size limits of this rule's findings.</summary>
    public readonly OutputLimits Output;
    /// <summary>This rule's detection rate; only the pipeline thread uses it.</summary>
    internal readonly DetectionRateLimiter RateLimiter;

    /// <summary>The state walk runs after this many bytes allocated by the rule, or this many evaluations.</summary>
    private const long WalkAfterBytes = 4 * 1024 * 1024;
    private const int WalkEveryEvaluations = 1 << 20;

    internal void CountEvaluation() => _evaluations++;

    /// <summary>A generated dispatch's count, which counts this rule's evaluations while it calls it, and where it started.</summary>
    private EvaluationCount? _shared;
    private long _sharedAtJoin;

    internal void JoinCount(EvaluationCount count)
    {
        _sharedAtJoin = count.Count;
        Volatile.Write(ref _shared, count);
    }

    /// <summary>The dispatch is retired: what it counted for this rule becomes the rule's own.</summary>
    internal void LeaveCount(EvaluationCount count)
    {
        if (!ReferenceEquals(_shared, count)) return;
        _evaluations += count.Count - _sharedAtJoin;
        Volatile.Write(ref _shared, null);
    }

    private long Evaluations =>
        Volatile.Read(ref _evaluations) + (Volatile.Read(ref _shared) is { } shared ? Volatile.Read(ref shared.Count) - _sharedAtJoin : 0);

    /// <summary>
    /// After an evaluation that armed its budget (or, on sampled events, for the evaluations the sample stands
    /// for): what it allocated. A rule that has allocated a few megabytes since
    /// the last look (or ran a million times) has its kept state measured; past the limit it is quarantined.
    /// </summary>
    internal void AfterEvaluation(Rule rule, long allocated, int evaluations)
    {
        _allocatedSinceWalk += allocated;
        _untilWalk -= evaluations;
        if (_allocatedSinceWalk < WalkAfterBytes && _untilWalk > 0) return;
        _allocatedSinceWalk = 0;
        _untilWalk = WalkEveryEvaluations;
        var retained = RetainedState.Measure(rule, _loaded.StaticFields, _limits.MaxRetainedBytes);
        if (retained > _limits.MaxRetainedBytes) throw RuleBudget.StateExceeded(_limits, retained);
    }

    internal void CountDetections(int count) => _detections += count;

    /// <summary>Records a failed evaluation: a budget overrun quarantines at once, an exception counts toward it.</summary>
    internal void OnFailure(Exception ex)
    {
        if (BudgetCause(ex) is { } budget)
        {
            _errors++;
            _lastError = budget.Message;
            Quarantine(budget.Message);
        }
        else
        {
            OnError(ex);
        }
    }

    /// <summary>
    /// The budget overrun behind <paramref name="ex"/>, if any. A framework call that runs rule code (a Sort
    /// comparer, a static initializer) wraps what it throws, and the overrun must still quarantine at once.
    /// </summary>
    private static RuleBudgetExceededException? BudgetCause(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
            if (e is RuleBudgetExceededException budget) return budget;
        return null;
    }

    internal void RecordLatency(long ticks)
    {
        _latencySamples++;
        _latencyTotalTicks += ticks;
        if (ticks > _latencyMaxTicks) _latencyMaxTicks = ticks;
    }

    private void OnError(Exception ex)
    {
        var errors = ++_errors;
        _lastError = RuleErrors.Describe(ex, File);
        _logger.LogWarning("rule {RuleId} ({File}) threw {Error} ({Errors} of {Limit} before quarantine)",
            Info.Id, File, _lastError, errors, _quarantineAfter);
        if (errors >= _quarantineAfter)
            Quarantine($"threw {errors} times; last: {_lastError}");
    }

    /// <summary>Quarantines so far, in every engine: an <see cref="RuleSetDispatch"/> built before the last one is stale.</summary>
    internal static long Quarantines => Volatile.Read(ref s_quarantines);
    private static long s_quarantines;

    private void Quarantine(string reason)
    {
        Live = null;
        Interlocked.Increment(ref s_quarantines);
        _quarantined = true;
        _quarantineReason = reason;
        _logger.LogError("rule {RuleId} ({File}) quarantined: {Reason}. The other rules keep running; fix the file to reload it.",
            Info.Id, File, reason);
    }

    public RuleStatus Snapshot()
    {
        var samples = Volatile.Read(ref _latencySamples);
        var nsPerTick = 1e9 / Stopwatch.Frequency;
        return new RuleStatus
        {
            Id = Info.Id, Name = Info.Name, Version = Info.Version, File = File,
            Evaluations = Evaluations, Detections = Volatile.Read(ref _detections),
            Errors = Volatile.Read(ref _errors), LastError = _lastError,
            Quarantined = _quarantineReason is not null, QuarantineReason = _quarantineReason, ReloadError = ReloadError,
            LatencySamples = samples,
            RateLimited = RateLimiter.TotalSuppressed,
            MeanLatencyNs = samples == 0 ? 0 : Volatile.Read(ref _latencyTotalTicks) * nsPerTick / samples,
            MaxLatencyNs = Volatile.Read(ref _latencyMaxTicks) * nsPerTick,
        };
    }

    public void Unload()
    {
        Live = null;
        _loaded.Unload();
    }
}
