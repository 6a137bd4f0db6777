using System.Globalization;
using Microsoft.Extensions.Logging;
using Sentinel.Events;
using Sentinel.Rules.Compilation;
using Sentinel.Rules.Runtime;

namespace Sentinel.Rules;

/// <summary>
/// Evaluates the rules of a directory (or one file) on each event, and reloads them while running.
/// </summary>
/// <remarks>
/// <para><see cref="Evaluate"/> runs on the pipeline thread. A reload compiles on its own thread and
/// publishes the new set as pending; the pipeline adopts it at the start of its next event. So every event
/// is evaluated by exactly one set, none is skipped, and the old set's contexts unload only once no
/// evaluation can still be using them.</para>
/// <para>Unchanged files keep their instance (and its state, counters and quarantine) across reloads. A file
/// whose new version fails keeps its previous version running, with the reason in its status.</para>
/// </remarks>
public sealed class RuleEngine : IDetector, IDisposable
{
    private readonly string _path;
    private readonly RuleFactory _factory;
    private readonly ILogger _logger;
    private readonly Findings _findings = new();
    private readonly DetectionPublisher _publisher = new();
    private readonly Lock _reloadLock = new();
    private RuleSet _active = RuleSet.Empty;
    private RuleSet? _pending;
    private RuleWatcher? _watcher;
    private bool _disposed;
    private readonly int _sampleInterval;
    private int _untilSample;
    private int _timedRule;

    private RuleEngine(string path, RuleEngineOptions options, ILogger logger)
    {
        _path = Path.GetFullPath(path);
        _logger = logger;
        _factory = new RuleFactory(options, options.Host ?? HostInfo.Detect(), logger);
        Options = options;
        _sampleInterval = _untilSample = Math.Max(1, options.LatencySampleInterval);
    }

    /// <summary>Compiles and loads every rule under <paramref name="rulesPath"/> (a directory or one .csx file).
    /// Files that fail are reported in <see cref="Diagnostics"/>; the others run.</summary>
    public static RuleEngine Load(string rulesPath, RuleEngineOptions options, ILogger logger)
    {
        var engine = new RuleEngine(rulesPath, options, logger);
        engine.Reload();
        engine.ApplyPending();
        return engine;
    }

    public RuleEngineOptions Options { get; }
    public string RulesPath => _path;
    public HostInfo Host => _factory.Host;

    /// <summary>The generation of the active set; it grows with each reload that changed something.</summary>
    public long Generation => _active.Generation;

    public IReadOnlyList<RuleInfo> Rules => _active.Slots.Select(s => s.Info).ToArray();

    /// <summary>The rules of the latest reload, adopted by the pipeline or not yet (<see cref="Rules"/> changes only
    /// at the pipeline's next event); what must follow a reload at once, like kernel policies, reads these.</summary>
    public IReadOnlyList<RuleInfo> LatestRules => (Volatile.Read(ref _pending) ?? _active).Slots.Select(s => s.Info).ToArray();

    /// <summary>Errors from the latest load or reload (files that did not compile or load).</summary>
    public IReadOnlyList<RuleDiagnostic> Diagnostics => (_pending ?? _active).Diagnostics;

    /// <summary>Raised after each reload, on the thread that ran it.</summary>
    public event Action<RuleReloadResult>? Reloaded;

    public IReadOnlyList<RuleStatus> Status() => _active.Slots.Select(s => s.Snapshot()).ToArray();

    public void Evaluate(MovePagesEvent evt, IDetectionSink sink)
    {
        if (Volatile.Read(ref _pending) is not null) ApplyPending();
        _evaluating = evt;
        _publisher.Begin(sink);
        // One event in LatencySampleInterval is timed; a countdown, since a modulo would cost more than a rule.
        if (--_untilSample != 0)
        {
            Dispatch().Run(_guardedBudget ?? RuleBudget.ForThread, evt, _findings);
            return;
        }
        _untilSample = _sampleInterval;
        SummarizeDue(evt);
        var slots = _active.Slots;
        _timedRule = _timedRule + 1 < slots.Length ? _timedRule + 1 : 0;
        RuleEvaluation.RunTimed(slots, evt, _findings, _publisher, Options.LatencyObserver, _sampleInterval, _timedRule);
    }

    /// <summary>The active set's dispatch, built on first use and again after a set change or a quarantine.</summary>
    private RuleSetDispatch Dispatch()
    {
        if (_dispatch is { } dispatch && dispatch.QuarantinesAtBuild == RuleSlot.Quarantines) return dispatch;
        _dispatch?.Retire();
        return _dispatch = RuleSetDispatch.Build(_active.Slots, _publisher, Options.Budget);
    }

    private RuleSetDispatch? _dispatch;

    /// <summary>
    /// Inside <see cref="RunGuarded"/>: the budget state of the thread that runs the body, which is the thread that
    /// evaluates (a thread-static read per event costs more than most rules).
    /// </summary>
    private RuleBudget.State? _guardedBudget;

    /// <summary>The event of the last <see cref="Evaluate"/>: the one an abort interrupts.</summary>
    private MovePagesEvent? _evaluating;

    /// <summary>
    /// Runs <paramref name="body"/>, which calls <see cref="Evaluate"/>, where the watchdog can stop any rule inside a
    /// framework call, its first evaluation included (<see cref="RuleGuard"/>). After a stop the rule is quarantined,
    /// the rules after it evaluate the interrupted event, and <paramref name="body"/> runs again. The body evaluates on
    /// the thread that runs it (the engine holds that thread's budget state for the run).
    /// </summary>
    public void RunGuarded(Action body) => RuleGuard.Run(() =>
    {
        var outer = _guardedBudget;
        _guardedBudget = RuleBudget.ForThread;
        try
        {
            body();
        }
        finally
        {
            _guardedBudget = outer;
        }
    }, ResumeAfterAbort);

    private void ResumeAfterAbort(RuleBudget.State budget)
    {
        _findings.Clear();
        if (_evaluating is not { } evt) return;
        var slots = _active.Slots;
        var index = budget.Index;
        if ((uint)index >= (uint)slots.Length) return;
        // A rule whose own check threw first is quarantined already, with its own reason.
        if (slots[index].Live is not null) slots[index].OnFailure(RuleBudget.Aborted(budget));
        // The set's dispatch counted the event for every rule when it began.
        RuleEvaluation.Run(slots, evt, _findings, _publisher, index + 1, countEvaluations: !budget.InDispatch);
    }

    /// <summary>
    /// Turns findings into detections, with one detached copy of the event shared by all of them (per event; the
    /// copy is kept with the event it was made from, so no reference is stored per event). Each finding
    /// is cut to the size limits and passes its rule's rate limit; what the limit holds back is counted and
    /// reported in one summary detection per interval. Held-back findings cost a counter, so one rule's flood
    /// never delays the others' detections.
    /// </summary>
    private sealed class DetectionPublisher : IFindingsPublisher
    {
        private IDetectionSink? _sink;
        private MovePagesEvent? _snapshot;
        private long _evaluation, _snapshotOf = -1;

        /// <summary>Per event: a counter, and the sink only when it changes (a reference store costs a write barrier).</summary>
        public void Begin(IDetectionSink sink)
        {
            _evaluation++;
            if (!ReferenceEquals(_sink, sink)) _sink = sink;
        }

        /// <summary>The detached copy of this event, made on its first detection.</summary>
        private MovePagesEvent Snapshot(MovePagesEvent evt)
        {
            if (_snapshotOf != _evaluation) (_snapshot, _snapshotOf) = (evt.Clone(), _evaluation);
            return _snapshot!;
        }

        public void Publish(RuleSlot slot, MovePagesEvent evt, Findings findings)
        {
            var limiter = slot.RateLimiter;
            if (limiter.SummaryDue(evt.TimeUnixNs)) Summarize(slot, evt);
            foreach (var finding in findings.Items)
            {
                if (!limiter.TryTake(evt.TimeUnixNs)) continue;
                // The pooled original is reused after this event; the detections keep the copy.
                var snapshot = Snapshot(evt);
                _sink!.OnDetection(new Detection
                {
                    Rule = slot.Info, Time = snapshot.Time, Message = slot.Output.Message(finding.Message),
                    Fields = slot.Output.Fields(finding.Fields), Event = snapshot,
                });
            }
        }

        /// <summary>Reports the detections a rule's limit held back, in one detection of that rule.</summary>
        public void Summarize(RuleSlot slot, MovePagesEvent evt)
        {
            var (count, first, last) = slot.RateLimiter.TakeSummary();
            var snapshot = Snapshot(evt);
            var limits = slot.Output;
            var (from, to) = (DateTimeOffset.FromUnixTimeMilliseconds(first / 1_000_000), DateTimeOffset.FromUnixTimeMilliseconds(last / 1_000_000));
            _sink!.OnDetection(new Detection
            {
                Rule = slot.Info, Time = snapshot.Time, Event = snapshot,
                Message = $"rate limit: {count} more detections of {slot.Info.Id} held back between {from:O} and {to:O} " +
                          $"(limit {limits.DetectionsPerSecond:0.###}/s, burst {limits.Burst})",
                Fields = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    ["rate_limited"] = count.ToString(CultureInfo.InvariantCulture),
                    ["first_unix_ns"] = first.ToString(CultureInfo.InvariantCulture),
                    ["last_unix_ns"] = last.ToString(CultureInfo.InvariantCulture),
                },
            });
        }
    }

    /// <summary>Reports held-back detections of rules that have gone quiet since (run on the sampled events).</summary>
    private void SummarizeDue(MovePagesEvent evt)
    {
        foreach (var slot in _active.Slots)
            if (slot.RateLimiter.SummaryDue(evt.TimeUnixNs)) _publisher.Summarize(slot, evt);
    }

    /// <summary>
    /// Recompiles changed files and publishes the new set; the pipeline adopts it before its next event.
    /// Safe to call from any thread; reloads run one at a time.
    /// </summary>
    public RuleReloadResult Reload() => Reload(allOrNothing: false);

    /// <summary>A reload; with <paramref name="allOrNothing"/> (a rule pack), any file that fails rejects the whole
    /// reload: nothing changes and the result says Rejected.</summary>
    public RuleReloadResult Reload(bool allOrNothing)
    {
        lock (_reloadLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var current = Volatile.Read(ref _pending) ?? _active;
            var diagnostics = new List<RuleDiagnostic>();
            IReadOnlyList<string> files;
            try
            {
                files = RuleDirectories.RuleFiles(_path);
            }
            catch (DirectoryNotFoundException ex)
            {
                diagnostics.Add(new RuleDiagnostic(_path, 1, 1, RuleDiagnosticSeverity.Error, RuleDiagnosticCodes.LoadFailure, ex.Message));
                files = [];
            }

            var sources = files.Select(f => (File: f, Hash: TryHash(f))).ToArray();
            // Unchanged files keep their slot; the rest compile in parallel.
            var compiled = sources
                .Where(s => current.Find(s.File) is not { } slot || slot.ContentHash != s.Hash)
                .AsParallel().AsOrdered()
                .Select(s => _factory.Compile(s.File))
                .ToDictionary(c => c.File);

            var slots = new List<RuleSlot>();
            var (added, updated) = (new List<string>(), new List<string>());
            foreach (var (file, _) in sources)
            {
                var existing = current.Find(file);
                if (!compiled.TryGetValue(file, out var compilation))
                {
                    slots.Add(existing!);
                    continue;
                }
                var fileDiagnostics = new List<RuleDiagnostic>();
                var slot = _factory.Load(compilation, fileDiagnostics);
                if (slot is not null && slots.FirstOrDefault(s => s.Info.Id == slot.Info.Id) is { } clash)
                {
                    var at = compilation.DeclaredId ?? new RuleIdLocation(slot.Info.Id, 1, 1);
                    fileDiagnostics.Add(new RuleDiagnostic(file, at.Line, at.Column, RuleDiagnosticSeverity.Error, RuleDiagnosticCodes.InvalidRule,
                        RuleLinter.DuplicateMessage(slot.Info.Id, clash.File)));
                    slot.Unload();
                    slot = null;
                }
                diagnostics.AddRange(fileDiagnostics);
                if (slot is not null)
                {
                    slots.Add(slot);
                    (existing is null ? added : updated).Add(slot.Info.Id);
                }
                else if (existing is not null && !allOrNothing)
                {
                    // A broken edit: the previous version keeps running, and says why the new one did not.
                    existing.ReloadError = string.Join("; ", fileDiagnostics.Where(d => d.IsError).Select(d => d.ToString()));
                    slots.Add(existing);
                    _logger.LogWarning("rule {File} not reloaded, the previous version keeps running: {Error}", file, existing.ReloadError);
                }
                else if (!allOrNothing)
                {
                    _logger.LogWarning("rule {File} not loaded: {Error}", file,
                        string.Join("; ", fileDiagnostics.Where(d => d.IsError).Select(d => d.ToString())));
                }
            }
            if (allOrNothing && diagnostics.Any(d => d.IsError))
            {
                foreach (var slot in slots.Where(s => !current.Contains(s))) slot.Unload();
                return new RuleReloadResult(current.Generation, [], [], [], diagnostics) { Rejected = true };
            }
            foreach (var slot in slots.Where(s => !compiled.ContainsKey(s.File))) slot.ReloadError = null;
            var removed = current.Slots.Where(s => !files.Contains(s.File)).Select(s => s.Info.Id).ToList();

            var changed = added.Count + updated.Count + removed.Count > 0;
            var next = new RuleSet(changed ? current.Generation + 1 : current.Generation, [.. slots], diagnostics);
            Publish(next);
            var result = new RuleReloadResult(next.Generation, added, updated, removed, diagnostics);
            if (changed)
                _logger.LogInformation("rules reloaded (generation {Generation}): {Added} added, {Updated} updated, {Removed} removed",
                    next.Generation, added.Count, updated.Count, removed.Count);
            Reloaded?.Invoke(result);
            return result;
        }
    }

    /// <summary>Reloads when a .csx changes in the rules directory, and on SIGHUP.</summary>
    public void StartWatching()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _watcher ??= new RuleWatcher(_path, Options.ReloadDebounce, SafeReload);
    }

    private void SafeReload()
    {
        try
        {
            Reload();
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "rule reload failed; the current rules keep running");
        }
    }

    private void Publish(RuleSet next)
    {
        var replaced = Interlocked.Exchange(ref _pending, next);
        // A pending set the pipeline never adopted: unload what only it held.
        if (replaced is not null) UnloadExcept(replaced, next, _active);
    }

    private void RetireDispatch()
    {
        _dispatch?.Retire();
        _dispatch = null;
    }

    /// <summary>Adopts a published set; called by the pipeline thread between two events.</summary>
    private void ApplyPending()
    {
        var next = Interlocked.Exchange(ref _pending, null);
        if (next is null) return;
        var previous = _active;
        _active = next;
        RetireDispatch();
        UnloadExcept(previous, next, null);
    }

    private static void UnloadExcept(RuleSet retired, RuleSet keep, RuleSet? alsoKeep)
    {
        foreach (var slot in retired.Slots)
            if (!keep.Contains(slot) && alsoKeep?.Contains(slot) != true)
                slot.Unload();
    }

    private static string TryHash(string file)
    {
        try
        {
            return RuleCompiler.ContentHash(RuleFileText.Read(file));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>For tests and benchmarks: the active rules' slots.</summary>
    internal IReadOnlyList<RuleSlot> ActiveSlots => _active.Slots;

    /// <summary>For tests: weak handles on the active rules' load contexts.</summary>
    internal IReadOnlyList<WeakReference> ActiveContexts() => _active.Slots.Select(s => s.Loaded.ContextReference()).ToArray();

    public void Dispose()
    {
        lock (_reloadLock)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _watcher?.Dispose();
        foreach (var slot in (Interlocked.Exchange(ref _pending, null)?.Slots ?? []).Concat(_active.Slots).Distinct())
            slot.Unload();
        _active = RuleSet.Empty;
        RetireDispatch();
    }
}
