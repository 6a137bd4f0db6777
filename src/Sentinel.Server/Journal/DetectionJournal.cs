using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;

namespace Sentinel.Server.Journal;

/// <summary>The retained range: empty when <see cref="First"/> &gt; <see cref="Last"/>.</summary>
public readonly record struct JournalRange(ulong First, ulong Last)
{
    public bool IsEmpty => First > Last;
}

/// <summary>
/// The durable detection journal. The pipeline converts each detection once and hands it over without waiting for
/// disk; one writer numbers them with gap-free sequences that continue across restarts, commits them in batches to
/// the <see cref="JournalStore"/> (one fsync per batch), and only then publishes them to streams and, through the
/// <see cref="CommittedFanOut"/>, to the printers. Nothing reaches a client before it is durable.
/// <see cref="JournalRetention"/> prunes the oldest.
/// </summary>
public sealed class DetectionJournal : IDetectionSink, IHostedService, IAsyncDisposable, IDisposable
{
    public const int MaxBatch = 1024;
    private const int PendingCapacity = 65_536;

    private readonly ServerOptions _options;
    private readonly ILogger _logger;
    private readonly SentinelMetrics? _metrics;
    private readonly JournalStore _store;
    private readonly JournalRetention _retention;
    private readonly CommittedFanOut _fanOut;
    private readonly Channel<PreparedDetection> _pending = Channel.CreateBounded<PreparedDetection>(
        new BoundedChannelOptions(PendingCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly RecentDetections _recent = new(16_384);
    private readonly Lock _writeLock = new();
    private readonly Lock _signalLock = new();
    private readonly HashSet<string> _ruleIds = new(StringComparer.Ordinal);
    // Numbered, delivered, not yet on disk (degraded mode), in sequence order. Guarded by _writeLock.
    private readonly List<JournalEntry> _unsaved = [];
    private string? _degradedReason;
    private TaskCompletionSource _committed = NewSignal();
    private Task? _writer;
    private ulong _first, _last;
    private long _payloadBytes, _pruned;
    private ulong? _exportCursor;
    private long _exportLost;

    public DetectionJournal(ServerOptions options, ILogger<DetectionJournal>? logger = null, SentinelMetrics? metrics = null)
    {
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = metrics;
        _fanOut = new CommittedFanOut(_logger);
        _retention = new JournalRetention(this, options, _logger);
        var path = System.IO.Path.GetFullPath(options.JournalPath);
        try
        {
            _store = JournalStore.Open(path, options.JournalSync);
        }
        catch (SqliteException ex) when (JournalStore.IsCorruption(ex))
        {
            // A journal we cannot read would stop the agent for good; keep it for forensics and start afresh.
            MovedAside = JournalStore.MoveAside(path);
            _store = JournalStore.Open(path, options.JournalSync);
            _logger.LogError("the journal {Path} was corrupt ({Reason}): moved it aside to {MovedAside} and started a new journal {JournalId}",
                path, ex.Message, MovedAside, _store.JournalId);
        }
        _last = _lastAtOpen = _store.LastSequence;
        _first = _store.MinSequence == 0 ? _last + 1 : _store.MinSequence;
        _payloadBytes = _store.PayloadBytes;
        _exportCursor = _store.ExportCursor;
        _exportLost = _store.ExportLost;
        _ruleIds.UnionWith(_store.RuleIds);
        _hostId = options.HostId ?? HostIdentity.Default();
        Prune(DateTimeOffset.UtcNow);
        if (MovedAside is not null)
            OnDetection(SystemDetection(JournalResetRule,
                $"the journal was corrupt and was moved aside to {MovedAside}; a new journal {JournalId} started at sequence 1"));
    }

    /// <summary>Where a corrupt journal found at start was moved, or null.</summary>
    public string? MovedAside { get; }

    public string Path => _store.Path;

    /// <summary>A random id fixed when the journal file was created; a new one tells consumers the journal was reset.</summary>
    public string JournalId => _store.JournalId;

    private readonly string _hostId;

    /// <summary>The host id stamped on every committed detection.</summary>
    public string HostId => _hostId;

    /// <summary>
    /// Adds a sink (a printer, syslog) that sees each detection only once it is committed, with its sequence,
    /// in sequence order, on a task of its own (a blocked sink never stalls a commit). Register before the host starts.
    /// </summary>
    public void AddCommittedSink(IDetectionSink sink) => _fanOut.Add(sink);

    /// <summary>Committed detections the after-commit sinks skipped because they fell too far behind.</summary>
    public long CommittedSinkDropped => _fanOut.Dropped;

    public JournalRange Range
    {
        get { lock (_signalLock) return new JournalRange(_first, _last); }
    }

    public long PayloadBytes => Interlocked.Read(ref _payloadBytes);
    public long Pruned => Interlocked.Read(ref _pruned);

    /// <summary>
    /// The last sequence the fleet stream acknowledged, contiguously from the start: export resumes after it.
    /// Null until export was first enabled on this journal; from then on retention counts what it prunes unexported.
    /// </summary>
    public ulong? ExportCursor
    {
        get { lock (_signalLock) return _exportCursor; }
    }

    /// <summary>Detections retention pruned before the stream acknowledged them: lost to the fleet (persisted).</summary>
    public long ExportLost => Interlocked.Read(ref _exportLost);

    /// <summary>Starts tracking export on this journal (idempotent): the cursor starts at 0, so everything retained is exported.</summary>
    public void EnableExport()
    {
        lock (_writeLock)
        {
            _store.EnableExport();
            lock (_signalLock) _exportCursor ??= 0;
        }
    }

    /// <summary>Persists the export cursor; it only moves forward.</summary>
    public void SetExportCursor(ulong acked)
    {
        lock (_writeLock)
        {
            lock (_signalLock)
            {
                if (_exportCursor is not { } current) throw new InvalidOperationException("export is not enabled on this journal");
                if (acked <= current) return;
                _exportCursor = acked;
            }
            _store.SetExportCursor(acked);
        }
    }

    /// <summary>The database plus its WAL on disk.</summary>
    public long FileBytes => FileLength(Path) + FileLength(Path + "-wal");

    /// <summary>
    /// Called on the pipeline's thread: converts and serializes the detection (once, here, not on the writer), then
    /// hands it to the writer. Blocks only if the writer is 64k behind.
    /// </summary>
    public void OnDetection(Detection detection)
    {
        var prepared = Prepare(detection);
        while (!_pending.Writer.TryWrite(prepared))
        {
            if (Volatile.Read(ref _closing))
            {
                // After shutdown began (a late detection while the pipeline drains): commit it here, never drop it.
                Commit([prepared]);
                return;
            }
            // Full: durability wins over speed, so the pipeline waits for the disk (and the ring buffer counts losses).
            // Reset before the retry, so a drain between the two cannot be missed.
            _room.Reset();
            if (_pending.Writer.TryWrite(prepared)) return;
            _room.Wait(RoomWaitLimit);
        }
    }

    // Everything the journal numbers is prepared here, in the order it is handed over when one thread hands over (the
    // pipeline): the n-th gets the n-th sequence after the last at open. Otherwise a guess, and a wrong one costs a copy.
    private PreparedDetection Prepare(Detection detection) =>
        new(detection, JournalId, _hostId, _lastAtOpen + (ulong)Interlocked.Increment(ref _prepared), _fanOut.TakesProto);

    private ulong _lastAtOpen;
    private long _prepared;

    // Set by the writer after each drain; a bounded wait besides, so a shutdown can never leave the pipeline waiting.
    private readonly ManualResetEventSlim _room = new(false);
    private static readonly TimeSpan RoomWaitLimit = TimeSpan.FromMilliseconds(100);
    private bool _closing;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _fanOut.Start();
        _writer = Task.Run(WriteLoopAsync, CancellationToken.None);
        _retention.Start();
        return Task.CompletedTask;
    }

    /// <summary>Commits everything handed over so far, then stops the writer.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _closing, true);
        _pending.Writer.TryComplete();
        if (_writer is not null) await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        await _retention.StopAsync().ConfigureAwait(false);
        await _fanOut.StopAsync(cancellationToken).ConfigureAwait(false); // the printers get everything committed
    }

    /// <summary>For hosts disposed synchronously: commits what is queued, then closes.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        lock (_writeLock) _store.Dispose();
    }

    /// <summary>Completes when a detection after <paramref name="after"/> is committed.</summary>
    public Task WaitForCommitAsync(ulong after, CancellationToken cancellationToken)
    {
        Task signal;
        lock (_signalLock)
        {
            if (_last > after) return Task.CompletedTask;
            signal = _committed.Task;
        }
        return signal.WaitAsync(cancellationToken);
    }

    /// <summary>Whether any retained or past detection came from this rule.</summary>
    public bool KnowsRule(string ruleId)
    {
        lock (_ruleIds) return _ruleIds.Contains(ruleId);
    }

    /// <summary>
    /// Appends up to <paramref name="max"/> committed detections after <paramref name="after"/>, in order, as stored.
    /// The first may be later than after+1 when retention pruned the rest: callers check.
    /// </summary>
    public void ReadEntriesAfter(ulong after, int max, List<JournalEntry> into)
    {
        if (after >= Range.Last) return;
        if (_recent.TryRead(after, max, into)) return; // live followers: straight from memory
        _store.ReadAfter(after, max, into);
        if (into.Count >= max || !IsDegraded) return;
        // Degraded: the rest is numbered but only in memory.
        var next = into.Count > 0 ? into[^1].Sequence : after;
        lock (_writeLock)
            foreach (var d in _unsaved)
                if (d.Sequence > next && into.Count < max) into.Add(d);
    }

    /// <summary>Like <see cref="ReadEntriesAfter"/>, parsed.</summary>
    public void ReadAfter(ulong after, int max, List<V1.Detection> into)
    {
        var entries = new List<JournalEntry>(Math.Min(max, 1024));
        ReadEntriesAfter(after, max, entries);
        foreach (var e in entries) into.Add(e.Parse());
    }

    /// <summary>Like <see cref="ReadEntriesAfter"/>, as the serialized sentinel.v1.Detection each would publish.</summary>
    public void ReadPayloadsAfter(ulong after, int max, List<(ulong Sequence, byte[] Payload)> into)
    {
        var entries = new List<JournalEntry>(Math.Min(max, 1024));
        ReadEntriesAfter(after, max, entries);
        foreach (var e in entries) into.Add((e.Sequence, e.Payload));
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await WriteAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A bug, not the disk (its errors degrade and retry): nothing is committed from here on, so say it loudly,
            // in the log and in status, rather than let streams and the pipeline wait in silence.
            _logger.LogCritical(ex, "the journal writer stopped: detections are no longer committed");
            EnterDegraded($"the writer stopped: {ex.Message}");
            throw;
        }
    }

    private async Task WriteAsync()
    {
        var reader = _pending.Reader;
        var batch = new List<PreparedDetection>(MaxBatch);
        while (true)
        {
            // Degraded: retry the disk every second even when no new detection arrives.
            var ready = reader.WaitToReadAsync().AsTask();
            while (IsDegraded && await Task.WhenAny(ready, Task.Delay(UnsavedRetryInterval)).ConfigureAwait(false) != ready) TryWriteUnsaved();
            if (!await ready.ConfigureAwait(false)) break;
            // Past the memory bound, stop taking detections until the disk takes the backlog: the pipeline then
            // waits, and the kernel counts what it cannot hand over.
            while (UnsavedCount >= MaxUnsaved && !TryWriteUnsaved()) await Task.Delay(UnsavedRetryInterval).ConfigureAwait(false);
            // Group commit: whatever queued while the last fsync ran goes into this one.
            var cpuStarted = ThreadCpuClock.NowNs();
            while (batch.Count < MaxBatch && reader.TryRead(out var d)) batch.Add(d);
            _room.Set();
            Commit(batch);
            Interlocked.Add(ref _writerCpuNs, ThreadCpuClock.NowNs() - cpuStarted);
            batch.Clear();
        }
        if (IsDegraded && !TryWriteUnsaved())
            _logger.LogError("stopping with {Count} detections the journal could not write ({Reason}): they were delivered but are not on disk",
                UnsavedCount, _degradedReason);
    }

    /// <summary>
    /// CPU time the writer spent taking batches, numbering, inserting and publishing them (not waiting on fsync or
    /// for detections): divided by the detections committed, the journal's commit cost per core.
    /// </summary>
    public TimeSpan WriterCpuTime => TimeSpan.FromTicks(Interlocked.Read(ref _writerCpuNs) / 100);

    private long _writerCpuNs;

    /// <summary>The most detections held in memory while the journal cannot write.</summary>
    public const int MaxUnsaved = 262_144;

    private static readonly TimeSpan UnsavedRetryInterval = TimeSpan.FromSeconds(1);

    /// <summary>True while the journal cannot write; detections are then numbered, delivered and held in memory.</summary>
    public bool IsDegraded
    {
        get { lock (_signalLock) return _degradedReason is not null; }
    }

    public string? DegradedReason
    {
        get { lock (_signalLock) return _degradedReason; }
    }

    /// <summary>The last sequence on disk: what a crash cannot take back. Equals Range.Last unless degraded.</summary>
    public ulong DurableLast
    {
        get
        {
            lock (_writeLock)
                if (_unsaved.Count > 0) return _unsaved[0].Sequence - 1;
            return Range.Last;
        }
    }

    public int UnsavedCount
    {
        get { lock (_signalLock) return _unsavedCount; }
    }

    private int _unsavedCount;

    /// <summary>
    /// Numbers the batch, writes it (after any unsaved backlog) in one transaction, then publishes it. If the disk
    /// refuses, the batch is still numbered and published, kept in memory, and written when the disk takes it.
    /// </summary>
    private void Commit(IReadOnlyList<PreparedDetection> batch)
    {
        if (batch.Count == 0) return;
        var started = Stopwatch.GetTimestamp();
        var committed = new JournalEntry[batch.Count];
        ulong last;
        string? failure = null;
        lock (_writeLock)
        {
            last = _last;
            for (var i = 0; i < batch.Count; i++) committed[i] = batch[i].Number(++last);
            _unsaved.AddRange(committed);
            try
            {
                WriteUnsaved();
            }
            catch (SqliteException ex)
            {
                failure = ex.Message;
            }
        }
        lock (_ruleIds)
            foreach (var d in committed) _ruleIds.Add(d.RuleId);
        _recent.Add(committed);
        TaskCompletionSource signal;
        lock (_signalLock)
        {
            _last = last;
            if (_first == 0 || _first > last) _first = committed[0].Sequence;
            signal = _committed;
            _committed = NewSignal();
        }
        // After the range moved, so status never shows unsaved detections beyond its last sequence.
        if (failure is not null) EnterDegraded(failure);
        else LeaveDegraded();
        signal.SetResult();
        _metrics?.OnCommitted(committed, Stopwatch.GetElapsedTime(started));
        if (_fanOut.HasSinks)
            for (var i = 0; i < batch.Count; i++) _fanOut.Offer(batch[i].Committed(committed[i].Sequence, JournalId, _hostId));
        if (failure is not null && _raiseDegraded)
        {
            _raiseDegraded = false;
            // Numbered and delivered like any detection, and written with the backlog once the disk takes it.
            Commit([Prepare(SystemDetection(JournalDegradedRule,
                $"the journal cannot write ({failure}); detections are still delivered and held in memory (at most {MaxUnsaved}) until it can"))]);
        }
    }

    private bool _raiseDegraded;

    /// <summary>Writes the unsaved backlog in one transaction (one fsync); on failure nothing is written and it stays.</summary>
    private void WriteUnsaved()
    {
        if (_unsaved.Count == 0) return;
        HashSet<string>? added = null;
        lock (_ruleIds)
            foreach (var d in _unsaved)
                if (!_ruleIds.Contains(d.RuleId)) (added ??= new HashSet<string>(StringComparer.Ordinal)).Add(d.RuleId);
        var bytes = _store.Append(_unsaved, (IReadOnlyCollection<string>?)added ?? []);
        Interlocked.Add(ref _payloadBytes, bytes);
        _unsaved.Clear();
    }

    /// <summary>Degraded mode only: tries to write the backlog now. True when nothing is left unsaved.</summary>
    private bool TryWriteUnsaved()
    {
        try
        {
            lock (_writeLock) WriteUnsaved();
        }
        catch (SqliteException ex)
        {
            EnterDegraded(ex.Message);
            return false;
        }
        LeaveDegraded();
        return true;
    }

    private void EnterDegraded(string reason)
    {
        int unsaved;
        lock (_writeLock) unsaved = _unsaved.Count;
        bool first;
        lock (_signalLock)
        {
            first = _degradedReason is null;
            _degradedReason = reason;
            _unsavedCount = unsaved;
        }
        _metrics?.JournalErrors.Inc();
        if (!first) return;
        _raiseDegraded = true;
        _logger.LogError("the journal {Path} cannot write ({Reason}): detections are still delivered, and held in memory until it can", Path, reason);
    }

    private void LeaveDegraded()
    {
        string? was;
        lock (_signalLock)
        {
            was = _degradedReason;
            _degradedReason = null;
            _unsavedCount = 0;
        }
        if (was is not null)
            _logger.LogWarning("the journal {Path} writes again: the detections held in memory are on disk", Path);
    }

    /// <summary>The built-in detections the journal raises about itself.</summary>
    public static readonly RuleInfo JournalDegradedRule = new()
    {
        Id = "SNT-0009", Version = "1.0.0", Name = "Detection journal cannot write", Severity = Severity.High,
        Description = "The agent's journal refused a write (a full disk, an I/O error). Detections are still delivered to stdout, " +
                      "syslog and the streams, and held in memory until the journal can write them.",
        MitreTactics = ["TA0005"], MitreTechniques = ["T1562"], Tags = ["agent-health", "journal"],
    };

    public static readonly RuleInfo JournalResetRule = new()
    {
        Id = "SNT-0010", Version = "1.0.0", Name = "Detection journal was corrupt and was reset", Severity = Severity.High,
        Description = "The journal file could not be read at start. It was moved aside for forensics and a new journal, with a new " +
                      "journal id, was started.",
        MitreTactics = ["TA0005"], MitreTechniques = ["T1070"], Tags = ["agent-health", "journal"],
    };

    private Detection SystemDetection(RuleInfo rule, string message) => new()
    {
        Rule = rule, Time = DateTimeOffset.UtcNow, Message = message, Event = new MovePagesEvent(),
        Fields = new Dictionary<string, string> { ["journal"] = Path },
    };

    /// <summary>
    /// Applies retention: drops the oldest detections older than the age limit, then the oldest until the payload
    /// fits the size limit. Always a prefix, so the retained range stays contiguous.
    /// </summary>
    public void Prune(DateTimeOffset now)
    {
        lock (_writeLock)
        {
            var cutoff = _retention.Cutoff(_store, PayloadBytes, now);
            if (cutoff <= 0 || (ulong)cutoff < _first) return;
            var result = _store.PruneThrough(cutoff, ExportCursor);
            Interlocked.Add(ref _payloadBytes, -result.RemovedBytes);
            Interlocked.Add(ref _pruned, result.Removed);
            _recent.TrimThrough((ulong)cutoff);
            lock (_signalLock) _first = (ulong)cutoff + 1;
            if (result.Removed > 0) _logger.LogInformation("journal retention pruned {Count} detections through sequence {Seq}", result.Removed, cutoff);
            if (result.Lost > 0)
            {
                Interlocked.Add(ref _exportLost, result.Lost);
                _logger.LogWarning("journal retention pruned {Count} detections (sequences {First}-{Last}) before the fleet stream acknowledged them",
                    result.Lost, result.LostFirst, result.LostLast);
                // Through the journal like any detection, so the SOC sees the loss on every channel (and on the stream once export resumes).
                if (!_pending.Writer.TryWrite(Prepare(ExportLossDetection.Create(result.Lost, (ulong)result.LostFirst, (ulong)result.LostLast, ExportLost))))
                    Interlocked.Decrement(ref _prepared); // never numbered: the next one gets its sequence
            }
        }
    }

    private static long FileLength(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
