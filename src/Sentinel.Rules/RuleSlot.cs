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
    private readonly int _sampleInterval;
    private readonly ILogger _logger;
    private Rule? _rule;
    private long _evaluations, _detections, _errors, _latencySamples, _latencyTotalTicks, _latencyMaxTicks;
    private volatile string? _quarantineReason;
    private volatile string? _lastError;

    public RuleSlot(LoadedRule loaded, Rule rule, RuleInfo info, RuleEngineOptions options, ILogger logger)
    {
        _loaded = loaded;
        _rule = rule;
        Info = info;
        _limits = options.Budget;
        _quarantineAfter = options.QuarantineAfterErrors;
        _sampleInterval = Math.Max(1, options.LatencySampleInterval);
        _logger = logger;
    }

    public RuleInfo Info { get; }
    public string File => _loaded.File;
    public string ContentHash => _loaded.ContentHash;
    public LoadedRule Loaded => _loaded;
    public bool Quarantined => _quarantineReason is not null;
    public volatile string? ReloadError;

    /// <summary>Runs the rule on one event. Returns true if it completed with findings to publish.</summary>
    public bool Evaluate(MovePagesEvent evt, Findings findings)
    {
        var rule = _rule;
        if (rule is null || _quarantineReason is not null) return false;
        findings.Clear();
        var sample = ++_evaluations % _sampleInterval == 0;
        var start = sample ? Stopwatch.GetTimestamp() : 0;
        if (_loaded.IsInstrumented) RuleBudget.Begin(_limits);
        try
        {
            rule.Match(evt, findings);
        }
        catch (RuleBudgetExceededException ex)
        {
            findings.Clear();
            _errors++;
            _lastError = ex.Message;
            Quarantine(ex.Message);
            return false;
        }
        catch (Exception ex)
        {
            findings.Clear();
            OnError(ex);
            return false;
        }
        if (sample) RecordLatency(Stopwatch.GetTimestamp() - start);
        if (findings.Count == 0) return false;
        _detections += findings.Count;
        return true;
    }

    private void OnError(Exception ex)
    {
        var errors = ++_errors;
        _lastError = $"{ex.GetType().Name}: {ex.Message}";
        _logger.LogWarning("rule {RuleId} ({File}) threw {Error} ({Errors} of {Limit} before quarantine)",
            Info.Id, File, _lastError, errors, _quarantineAfter);
        if (errors >= _quarantineAfter)
            Quarantine($"threw {errors} times; last: {_lastError}");
    }

    private void Quarantine(string reason)
    {
        _quarantineReason = reason;
        _logger.LogError("rule {RuleId} ({File}) quarantined: {Reason}. The other rules keep running; fix the file to reload it.",
            Info.Id, File, reason);
    }

    private void RecordLatency(long ticks)
    {
        _latencySamples++;
        _latencyTotalTicks += ticks;
        if (ticks > _latencyMaxTicks) _latencyMaxTicks = ticks;
    }

    public RuleStatus Snapshot()
    {
        var samples = Volatile.Read(ref _latencySamples);
        var nsPerTick = 1e9 / Stopwatch.Frequency;
        return new RuleStatus
        {
            Id = Info.Id, Name = Info.Name, Version = Info.Version, File = File,
            Evaluations = Volatile.Read(ref _evaluations), Detections = Volatile.Read(ref _detections),
            Errors = Volatile.Read(ref _errors), LastError = _lastError,
            Quarantined = _quarantineReason is not null, QuarantineReason = _quarantineReason, ReloadError = ReloadError,
            LatencySamples = samples,
            MeanLatencyNs = samples == 0 ? 0 : Volatile.Read(ref _latencyTotalTicks) * nsPerTick / samples,
            MaxLatencyNs = Volatile.Read(ref _latencyMaxTicks) * nsPerTick,
        };
    }

    public void Unload()
    {
        _rule = null;
        _loaded.Unload();
    }
}
