using System.Diagnostics;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Contracts;
using Sentinel.Events;

namespace Sentinel.Server.Journal;

/// <summary>The retained range: empty when <see cref="First"/> &gt; <see cref="Last"/>.</summary>
public readonly record struct JournalRange(ulong First, ulong Last)
{
    public bool IsEmpty => First > Last;
}

/// <summary>
/// The durable detection journal on SQLite in WAL mode. The pipeline hands detections over without waiting for
/// disk; one writer commits them in batches (one fsync per batch), assigns gap-free sequences that continue across
/// restarts, and only then publishes them to streams. Nothing reaches a client before it is durable.
/// </summary>
public sealed class DetectionJournal : IDetectionSink, IHostedService, IAsyncDisposable, IDisposable
{
    public const int MaxBatch = 1024;
    private const int PendingCapacity = 65_536;

    private readonly ServerOptions _options;
    private readonly ILogger _logger;
    private readonly SentinelMetrics? _metrics;
    private readonly Channel<Detection> _pending = Channel.CreateBounded<Detection>(
        new BoundedChannelOptions(PendingCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly RecentDetections _recent = new(16_384);
    private readonly Lock _writeLock = new();
    private readonly Lock _signalLock = new();
    private readonly HashSet<string> _ruleIds = new(StringComparer.Ordinal);
    private readonly SqliteConnection _connection;
    private SqliteConnection? _connectionForInit; // the connection being opened, before _connection is set
    private SqliteConnection Db => _connectionForInit ?? _connection;
    private readonly string _readConnectionString;
    // Numbered, delivered, not yet on disk (degraded mode), in sequence order. Guarded by _writeLock.
    private readonly List<V1.Detection> _unsaved = [];
    private string? _degradedReason;
    private TaskCompletionSource _committed = NewSignal();
    private Task? _writer, _retention;
    private CancellationTokenSource? _stopRetention;
    private ulong _first, _last;
    private long _payloadBytes, _pruned;
    private ulong? _exportCursor;
    private long _exportLost;

    public DetectionJournal(ServerOptions options, ILogger<DetectionJournal>? logger = null, SentinelMetrics? metrics = null)
    {
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _metrics = metrics;
        Path = System.IO.Path.GetFullPath(options.JournalPath);
        try
        {
            _connection = Open();
        }
        catch (SqliteException ex) when (IsCorruption(ex))
        {
            // A journal we cannot read would stop the agent for good; keep it for forensics and start afresh.
            MovedAside = MoveAside(ex.Message);
            _connection = Open();
            _logger.LogError("the journal {Path} was corrupt ({Reason}): moved it aside to {MovedAside} and started a new journal {JournalId}",
                Path, ex.Message, MovedAside, JournalId);
        }
        _hostId = options.HostId ?? HostIdentity.Default();
        _readConnectionString = new SqliteConnectionStringBuilder { DataSource = Path, Mode = SqliteOpenMode.ReadOnly, Pooling = true }.ToString();
        Prune(DateTimeOffset.UtcNow);
        if (MovedAside is not null)
            OnDetection(SystemDetection(JournalResetRule,
                $"the journal was corrupt and was moved aside to {MovedAside}; a new journal {JournalId} started at sequence 1"));
    }

    /// <summary>Opens the file, checks it, and loads its state; throws a corruption <see cref="SqliteException"/> on a damaged file.</summary>
    private SqliteConnection Open()
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = Path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            connection.Open();
            _connectionForInit = connection;
            // Checked before anything writes, so a damaged file is moved aside exactly as it was found.
            var check = ScalarString("PRAGMA quick_check(1)");
            if (!string.Equals(check, "ok", StringComparison.OrdinalIgnoreCase))
                throw new SqliteException($"quick_check: {check}", SqliteCorrupt);
            InitializeSchema();
            JournalId = LoadOrCreateJournalId();
            LoadState();
            return connection;
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            connection.Dispose();
            if (ex is SqliteException sqlite && IsCorruption(sqlite)) throw;
            throw new ServerConfigurationException($"cannot open the journal {Path}: {ex.Message}");
        }
        finally
        {
            _connectionForInit = null;
        }
    }

    private const int SqliteCorrupt = 11, SqliteNotADatabase = 26;

    private static bool IsCorruption(SqliteException ex) => ex.SqliteErrorCode is SqliteCorrupt or SqliteNotADatabase;

    /// <summary>Renames the journal and its WAL/SHM files to PATH.corrupt-TIMESTAMP*; returns the new name.</summary>
    private string MoveAside(string reason)
    {
        SqliteConnection.ClearAllPools();
        var target = $"{Path}.corrupt-{DateTimeOffset.UtcNow:yyyyMMddTHHmmssZ}";
        foreach (var suffix in (string[])["", "-wal", "-shm"])
            if (File.Exists(Path + suffix)) File.Move(Path + suffix, target + suffix, overwrite: true);
        return target;
    }

    /// <summary>Where a corrupt journal found at start was moved, or null.</summary>
    public string? MovedAside { get; }

    public string Path { get; }

    /// <summary>A random id fixed when the journal file was created; a new one tells consumers the journal was reset.</summary>
    public string JournalId { get; private set; } = "";

    private readonly string _hostId;

    /// <summary>The host id stamped on every committed detection.</summary>
    public string HostId => _hostId;

    private IDetectionSink[] _afterCommit = [];

    /// <summary>
    /// Adds a sink (a printer, syslog) that sees each detection only once it is committed, with its sequence,
    /// in sequence order, on the journal's writer thread. Register before the host starts.
    /// </summary>
    public void AddCommittedSink(IDetectionSink sink) => _afterCommit = [.. _afterCommit, sink];

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
            Execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('export_cursor', 0), ('export_lost', 0)");
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
            using var update = _connection.CreateCommand();
            update.CommandText = "UPDATE meta SET value = MAX(value, $v) WHERE key = 'export_cursor'";
            update.Parameters.AddWithValue("$v", (long)acked);
            update.ExecuteNonQuery();
        }
    }

    /// <summary>The database plus its WAL on disk.</summary>
    public long FileBytes => FileLength(Path) + FileLength(Path + "-wal");

    /// <summary>Called on the pipeline's thread: hands the detection to the writer. Blocks only if the writer is 64k behind.</summary>
    public void OnDetection(Detection detection)
    {
        if (_pending.Writer.TryWrite(detection)) return;
        try
        {
            // Full: durability wins over speed, so the pipeline waits for the disk (and the ring buffer counts losses).
            _pending.Writer.WriteAsync(detection).AsTask().GetAwaiter().GetResult();
        }
        catch (ChannelClosedException)
        {
            // After shutdown began (a late detection while the pipeline drains): commit it here, never drop it.
            Commit([detection]);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _writer = Task.Factory.StartNew(WriteLoop, TaskCreationOptions.LongRunning);
        _stopRetention = new CancellationTokenSource();
        _retention = RetentionLoopAsync(_stopRetention.Token);
        return Task.CompletedTask;
    }

    /// <summary>Commits everything handed over so far, then stops the writer.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _pending.Writer.TryComplete();
        _stopRetention?.Cancel();
        if (_writer is not null) await _writer.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_retention is not null) await _retention.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>For hosts disposed synchronously: commits what is queued, then closes.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        lock (_writeLock) _connection.Dispose();
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
    /// Appends up to <paramref name="max"/> committed detections after <paramref name="after"/>, in order.
    /// The first may be later than after+1 when retention pruned the rest: callers check.
    /// </summary>
    public void ReadAfter(ulong after, int max, List<V1.Detection> into) =>
        Read(after, max, into, static d => d, static row => V1.Detection.Parser.ParseFrom((byte[])row[1]), static d => d.Sequence);

    /// <summary>
    /// Like <see cref="ReadAfter"/>, as the serialized sentinel.v1.Detection each would publish: the bytes on disk as
    /// stored (no decode and re-encode), the in-memory ones encoded once.
    /// </summary>
    public void ReadPayloadsAfter(ulong after, int max, List<(ulong Sequence, byte[] Payload)> into) =>
        Read(after, max, into, static d => (d.Sequence, d.ToByteArray()), static row => ((ulong)row.GetInt64(0), (byte[])row[1]), static p => p.Item1);

    private void Read<T>(ulong after, int max, List<T> into, Func<V1.Detection, T> fromMemory, Func<SqliteDataReader, T> fromRow, Func<T, ulong> sequenceOf)
    {
        if (after >= Range.Last) return;
        if (into is List<V1.Detection> detections)
        {
            if (_recent.TryRead(after, max, detections)) return; // live followers: straight from memory, no copy
        }
        else
        {
            var recent = new List<V1.Detection>(Math.Min(max, 1024));
            if (_recent.TryRead(after, max, recent))
            {
                foreach (var d in recent) into.Add(fromMemory(d));
                return;
            }
        }
        using (var connection = new SqliteConnection(_readConnectionString))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT seq, payload FROM detections WHERE seq > $after ORDER BY seq LIMIT $max";
            command.Parameters.AddWithValue("$after", (long)after);
            command.Parameters.AddWithValue("$max", max);
            using var reader = command.ExecuteReader();
            while (reader.Read()) into.Add(fromRow(reader));
        }
        if (into.Count >= max || !IsDegraded) return;
        // Degraded: the rest is numbered but only in memory.
        var next = into.Count > 0 ? sequenceOf(into[^1]) : after;
        lock (_writeLock)
            foreach (var d in _unsaved)
                if (d.Sequence > next && into.Count < max) into.Add(fromMemory(d));
    }

    private void WriteLoop()
    {
        var reader = _pending.Reader;
        var batch = new List<Detection>(MaxBatch);
        while (true)
        {
            var ready = reader.WaitToReadAsync().AsTask();
            // Degraded: retry the disk every second even when no new detection arrives.
            while (IsDegraded && !ready.Wait(UnsavedRetryInterval)) TryWriteUnsaved();
            if (!ready.GetAwaiter().GetResult()) break;
            // Past the memory bound, stop taking detections until the disk takes the backlog: the pipeline then
            // waits, and the kernel counts what it cannot hand over.
            while (UnsavedCount >= MaxUnsaved && !TryWriteUnsaved()) Thread.Sleep(UnsavedRetryInterval);
            // Group commit: whatever queued while the last fsync ran goes into this one.
            while (batch.Count < MaxBatch && reader.TryRead(out var d)) batch.Add(d);
            Commit(batch);
            batch.Clear();
        }
        if (IsDegraded && !TryWriteUnsaved())
            _logger.LogError("stopping with {Count} detections the journal could not write ({Reason}): they were delivered but are not on disk",
                UnsavedCount, _degradedReason);
    }

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
    private void Commit(IReadOnlyList<Detection> batch)
    {
        if (batch.Count == 0) return;
        var started = Stopwatch.GetTimestamp();
        var committed = new V1.Detection[batch.Count];
        ulong last;
        string? failure = null;
        lock (_writeLock)
        {
            last = _last;
            for (var i = 0; i < batch.Count; i++)
            {
                var proto = DetectionConverter.ToProto(batch[i]);
                proto.Sequence = ++last;
                proto.AgentSequence = last;
                proto.JournalId = JournalId;
                proto.HostId = _hostId;
                committed[i] = proto;
            }
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
        foreach (var sink in _afterCommit)
            for (var i = 0; i < batch.Count; i++)
            {
                try
                {
                    sink.OnDetection(batch[i] with
                    {
                        Sequence = committed[i].Sequence, JournalId = committed[i].JournalId,
                        HostId = committed[i].HostId, AgentSequence = committed[i].AgentSequence,
                    });
                }
                catch (Exception ex) { _logger.LogError(ex, "{Sink} failed after commit; the journal continues", sink.GetType().Name); }
            }
        if (failure is not null && _raiseDegraded)
        {
            _raiseDegraded = false;
            // Numbered and delivered like any detection, and written with the backlog once the disk takes it.
            Commit([SystemDetection(JournalDegradedRule,
                $"the journal cannot write ({failure}); detections are still delivered and held in memory (at most {MaxUnsaved}) until it can")]);
        }
    }

    private bool _raiseDegraded;

    /// <summary>Writes the unsaved backlog in one transaction (one fsync); on failure nothing is written and it stays.</summary>
    private void WriteUnsaved()
    {
        if (_unsaved.Count == 0) return;
        long bytes = 0;
        using (var transaction = Db.BeginTransaction())
        {
            using var insert = Db.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO detections (seq, committed_ns, rule_id, severity, payload) VALUES ($seq, $now, $rule, $severity, $payload)";
            var seqParam = insert.Parameters.Add("$seq", SqliteType.Integer);
            insert.Parameters.AddWithValue("$now", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000);
            var ruleParam = insert.Parameters.Add("$rule", SqliteType.Text);
            var severityParam = insert.Parameters.Add("$severity", SqliteType.Integer);
            var payloadParam = insert.Parameters.Add("$payload", SqliteType.Blob);
            insert.Prepare();
            foreach (var proto in _unsaved)
            {
                var payload = proto.ToByteArray();
                seqParam.Value = (long)proto.Sequence;
                ruleParam.Value = proto.RuleId;
                severityParam.Value = (int)proto.Severity;
                payloadParam.Value = payload;
                insert.ExecuteNonQuery();
                bytes += payload.Length;
            }
            // Rule ids get a row the first time they appear, instead of an index on every detection.
            HashSet<string>? added = null;
            foreach (var d in _unsaved)
            {
                bool isNew;
                lock (_ruleIds) isNew = !_ruleIds.Contains(d.RuleId);
                if (!isNew || !(added ??= []).Add(d.RuleId)) continue;
                using var rule = Db.CreateCommand();
                rule.Transaction = transaction;
                rule.CommandText = "INSERT OR IGNORE INTO rules (rule_id) VALUES ($r)";
                rule.Parameters.AddWithValue("$r", d.RuleId);
                rule.ExecuteNonQuery();
            }
            using (var meta = Db.CreateCommand())
            {
                meta.Transaction = transaction;
                meta.CommandText = "UPDATE meta SET value = $last WHERE key = 'last_sequence'";
                meta.Parameters.AddWithValue("$last", (long)_unsaved[^1].Sequence);
                meta.ExecuteNonQuery();
            }
            transaction.Commit(); // in WAL with synchronous=FULL this is the batch's one fsync
        }
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

    private async Task RetentionLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.RetentionInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try { Prune(DateTimeOffset.UtcNow); }
                catch (SqliteException ex) { _logger.LogError(ex, "journal retention failed"); }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Applies retention: drops the oldest detections older than the age limit, then the oldest until the payload
    /// fits the size limit. Always a prefix, so the retained range stays contiguous.
    /// </summary>
    public void Prune(DateTimeOffset now)
    {
        lock (_writeLock)
        {
            long cutoff = 0;
            if (_options.RetentionAge is { } age)
            {
                var before = (now - age).ToUnixTimeMilliseconds() * 1_000_000;
                cutoff = Math.Max(cutoff, ScalarLong("SELECT COALESCE(MAX(seq), 0) FROM detections WHERE committed_ns < $p", before));
            }
            if (_options.RetentionBytes is { } maxBytes && PayloadBytes > maxBytes)
                cutoff = Math.Max(cutoff, SizeCutoff(PayloadBytes - maxBytes));
            if (cutoff <= 0 || (ulong)cutoff < _first) return;

            using var transaction = Db.BeginTransaction();
            var removedBytes = ScalarLong("SELECT COALESCE(SUM(length(payload)), 0) FROM detections WHERE seq <= $p", cutoff, transaction);
            var removed = ScalarLong("SELECT COUNT(*) FROM detections WHERE seq <= $p", cutoff, transaction);
            var cursor = ExportCursor;
            (long Count, long First, long Last) lost = default;
            if (cursor is { } acked && (ulong)cutoff > acked)
            {
                // Counted in the same transaction as the delete, so a crash can neither lose nor double the count.
                using var unexported = Db.CreateCommand();
                unexported.Transaction = transaction;
                unexported.CommandText = "SELECT COUNT(*), COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM detections WHERE seq > $c AND seq <= $p";
                unexported.Parameters.AddWithValue("$c", (long)acked);
                unexported.Parameters.AddWithValue("$p", cutoff);
                using (var r = unexported.ExecuteReader())
                    if (r.Read()) lost = (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2));
                if (lost.Count > 0)
                {
                    using var count = Db.CreateCommand();
                    count.Transaction = transaction;
                    count.CommandText = "UPDATE meta SET value = value + $n WHERE key = 'export_lost'";
                    count.Parameters.AddWithValue("$n", lost.Count);
                    count.ExecuteNonQuery();
                }
            }
            using (var delete = Db.CreateCommand())
            {
                delete.Transaction = transaction;
                delete.CommandText = "DELETE FROM detections WHERE seq <= $p";
                delete.Parameters.AddWithValue("$p", cutoff);
                delete.ExecuteNonQuery();
            }
            transaction.Commit();
            Execute("PRAGMA incremental_vacuum");
            Interlocked.Add(ref _payloadBytes, -removedBytes);
            Interlocked.Add(ref _pruned, removed);
            _recent.TrimThrough((ulong)cutoff);
            lock (_signalLock) _first = (ulong)cutoff + 1;
            if (removed > 0) _logger.LogInformation("journal retention pruned {Count} detections through sequence {Seq}", removed, cutoff);
            if (lost.Count > 0)
            {
                Interlocked.Add(ref _exportLost, lost.Count);
                _logger.LogWarning("journal retention pruned {Count} detections (sequences {First}-{Last}) before the fleet stream acknowledged them",
                    lost.Count, lost.First, lost.Last);
                // Through the journal like any detection, so the SOC sees the loss on every channel (and on the stream once export resumes).
                _pending.Writer.TryWrite(ExportLossDetection.Create(lost.Count, (ulong)lost.First, (ulong)lost.Last, ExportLost));
            }
        }
    }

    /// <summary>The sequence through which the oldest rows add up to at least <paramref name="excess"/> bytes.</summary>
    private long SizeCutoff(long excess)
    {
        using var command = Db.CreateCommand();
        command.CommandText = "SELECT seq, length(payload) FROM detections ORDER BY seq";
        using var reader = command.ExecuteReader();
        long total = 0, seq = 0;
        while (total < excess && reader.Read())
        {
            seq = reader.GetInt64(0);
            total += reader.GetInt64(1);
        }
        return seq;
    }

    private void InitializeSchema()
    {
        // auto_vacuum must be set before the first table exists; it lets retention give space back.
        Execute("PRAGMA auto_vacuum = INCREMENTAL");
        var mode = ScalarString("PRAGMA journal_mode = WAL");
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            throw new ServerConfigurationException($"the journal {Path} cannot use WAL mode (got '{mode}')");
        Execute(_options.JournalSync == JournalSync.Full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
        Execute("""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            INSERT OR IGNORE INTO meta (key, value) VALUES ('last_sequence', 0), ('schema_version', 1);
            CREATE TABLE IF NOT EXISTS detections (
                seq INTEGER PRIMARY KEY,
                committed_ns INTEGER NOT NULL,
                rule_id TEXT NOT NULL,
                severity INTEGER NOT NULL,
                payload BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS rules (rule_id TEXT PRIMARY KEY);
            """);
    }

    private string LoadOrCreateJournalId()
    {
        // Its own table: meta holds integers. INSERT OR IGNORE keeps the first id ever written.
        Execute("CREATE TABLE IF NOT EXISTS identity (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
        using (var insert = Db.CreateCommand())
        {
            insert.CommandText = "INSERT OR IGNORE INTO identity (key, value) VALUES ('journal_id', $id)";
            insert.Parameters.AddWithValue("$id", Guid.NewGuid().ToString("N"));
            insert.ExecuteNonQuery();
        }
        return ScalarString("SELECT value FROM identity WHERE key = 'journal_id'")!;
    }

    private void LoadState()
    {
        // The meta row is updated in each batch's transaction, so it survives even when retention empties the table.
        var last = (ulong)Math.Max(ScalarLong("SELECT value FROM meta WHERE key = 'last_sequence'"),
                                   ScalarLong("SELECT COALESCE(MAX(seq), 0) FROM detections"));
        var min = (ulong)ScalarLong("SELECT COALESCE(MIN(seq), 0) FROM detections");
        _last = last;
        _first = min == 0 ? last + 1 : min;
        _payloadBytes = ScalarLong("SELECT COALESCE(SUM(length(payload)), 0) FROM detections");
        if (ScalarLong("SELECT COUNT(*) FROM meta WHERE key = 'export_cursor'") > 0)
        {
            _exportCursor = (ulong)ScalarLong("SELECT value FROM meta WHERE key = 'export_cursor'");
            _exportLost = ScalarLong("SELECT COALESCE(MAX(value), 0) FROM meta WHERE key = 'export_lost'");
        }
        using var command = Db.CreateCommand();
        command.CommandText = "SELECT rule_id FROM rules";
        using var reader = command.ExecuteReader();
        while (reader.Read()) _ruleIds.Add(reader.GetString(0));
    }

    private void Execute(string sql)
    {
        using var command = Db.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private string? ScalarString(string sql)
    {
        using var command = Db.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar()?.ToString();
    }

    private long ScalarLong(string sql, long? parameter = null, SqliteTransaction? transaction = null)
    {
        using var command = Db.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        if (parameter is { } p) command.Parameters.AddWithValue("$p", p);
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L);
    }

    private static long FileLength(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
