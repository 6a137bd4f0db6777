using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Sentinel.Server.Journal;

/// <summary>
/// The journal's SQLite file in WAL mode: schema, identity, the batch insert (one transaction, so one fsync per batch
/// with synchronous=FULL), reads, the export cursor and pruning. No threads and no policy: <see cref="DetectionJournal"/>
/// decides what to write and when, on one writer; readers use their own read-only connections.
/// </summary>
internal sealed class JournalStore : IDisposable
{
    public const int SqliteCorrupt = 11, SqliteNotADatabase = 26;

    // Prepared once for the store's life and rebound per transaction: no statement parse per batch, and one
    // statement executes for every RowsPerInsert detections instead of one each. Bound by position through SQLite's
    // own API: Microsoft.Data.Sqlite binds by name, and SQLite finds a name by scanning every parameter of the
    // statement, which for 257 parameters was most of the writer's time.
    private const int RowsPerInsert = 64;

    private readonly SqliteConnection _connection;
    private readonly string _readConnectionString;
    private InsertStatement? _insertMany, _insertOne;

    private JournalStore(string path, SqliteConnection connection)
    {
        Path = path;
        _connection = connection;
        _readConnectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = true }.ToString();
    }

    public string Path { get; }

    /// <summary>A random id fixed when the file was created.</summary>
    public string JournalId { get; private set; } = "";

    // State as loaded at open; the journal keeps it current from there.
    public ulong LastSequence { get; private set; }
    public ulong MinSequence { get; private set; }
    public long PayloadBytes { get; private set; }
    public ulong? ExportCursor { get; private set; }
    public long ExportLost { get; private set; }
    public List<string> RuleIds { get; } = [];

    public static bool IsCorruption(SqliteException ex) => ex.SqliteErrorCode is SqliteCorrupt or SqliteNotADatabase;

    /// <summary>Opens the file, checks it, and loads its state; throws a corruption <see cref="SqliteException"/> on a damaged file.</summary>
    public static JournalStore Open(string path, JournalSync sync)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false };
        var connection = new SqliteConnection(builder.ToString());
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            connection.Open();
            var store = new JournalStore(path, connection);
            // Checked before anything writes, so a damaged file is moved aside exactly as it was found.
            var check = store.ScalarString("PRAGMA quick_check(1)");
            if (!string.Equals(check, "ok", StringComparison.OrdinalIgnoreCase))
                throw new SqliteException($"quick_check: {check}", SqliteCorrupt);
            store.InitializeSchema(sync);
            store.JournalId = store.LoadOrCreateJournalId();
            store.LoadState();
            return store;
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            connection.Dispose();
            if (ex is SqliteException sqlite && IsCorruption(sqlite)) throw;
            throw new ServerConfigurationException($"cannot open the journal {path}: {ex.Message}");
        }
    }

    /// <summary>Renames the journal and its WAL/SHM files to PATH.corrupt-TIMESTAMP*; returns the new name.</summary>
    public static string MoveAside(string path)
    {
        SqliteConnection.ClearAllPools();
        var target = $"{path}.corrupt-{DateTimeOffset.UtcNow:yyyyMMddTHHmmssZ}";
        foreach (var suffix in (string[])["", "-wal", "-shm"])
            if (File.Exists(path + suffix)) File.Move(path + suffix, target + suffix, overwrite: true);
        return target;
    }

    /// <summary>
    /// Writes <paramref name="entries"/>, the rule ids seen for the first time and the last sequence in one transaction
    /// (in WAL with synchronous=FULL, the batch's one fsync). On failure nothing is written. Returns the payload bytes.
    /// </summary>
    public long Append(List<JournalEntry> entries, IReadOnlyCollection<string> newRuleIds)
    {
        long bytes = 0;
        using var transaction = _connection.BeginTransaction();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        var start = 0;
        if (entries.Count >= RowsPerInsert) _insertMany ??= new InsertStatement(_connection, RowsPerInsert);
        for (; start + RowsPerInsert <= entries.Count; start += RowsPerInsert) bytes += _insertMany!.Execute(now, entries, start);
        if (start < entries.Count) _insertOne ??= new InsertStatement(_connection, 1);
        for (; start < entries.Count; start++) bytes += _insertOne!.Execute(now, entries, start);
        // Rule ids get a row the first time they appear, instead of an index on every detection.
        foreach (var ruleId in newRuleIds)
        {
            using var rule = Command("INSERT OR IGNORE INTO rules (rule_id) VALUES ($r)", transaction);
            rule.Parameters.AddWithValue("$r", ruleId);
            rule.ExecuteNonQuery();
        }
        using (var meta = Command("UPDATE meta SET value = $last WHERE key = 'last_sequence'", transaction))
        {
            meta.Parameters.AddWithValue("$last", (long)entries[^1].Sequence);
            meta.ExecuteNonQuery();
        }
        transaction.Commit();
        return bytes;
    }

    /// <summary>Appends up to <paramref name="max"/> stored detections after <paramref name="after"/>, in order. Any thread.</summary>
    public void ReadAfter(ulong after, int max, List<JournalEntry> into)
    {
        using var connection = new SqliteConnection(_readConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, severity, rule_id, payload FROM detections WHERE seq > $after ORDER BY seq LIMIT $max";
        command.Parameters.AddWithValue("$after", (long)after);
        command.Parameters.AddWithValue("$max", max);
        using var reader = command.ExecuteReader();
        while (reader.Read())
            into.Add(new JournalEntry((ulong)reader.GetInt64(0), (V1.Severity)reader.GetInt32(1), reader.GetString(2), (byte[])reader[3]));
    }

    public void EnableExport() => Execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('export_cursor', 0), ('export_lost', 0)");

    public void SetExportCursor(ulong acked)
    {
        using var update = Command("UPDATE meta SET value = MAX(value, $v) WHERE key = 'export_cursor'");
        update.Parameters.AddWithValue("$v", (long)acked);
        update.ExecuteNonQuery();
    }

    /// <summary>The last sequence committed before <paramref name="unixNs"/>, or 0.</summary>
    public long CommittedBefore(long unixNs) => ScalarLong("SELECT COALESCE(MAX(seq), 0) FROM detections WHERE committed_ns < $p", unixNs);

    /// <summary>The sequence through which the oldest rows add up to at least <paramref name="excess"/> bytes.</summary>
    public long SizeCutoff(long excess)
    {
        using var command = Command("SELECT seq, length(payload) FROM detections ORDER BY seq");
        using var reader = command.ExecuteReader();
        long total = 0, seq = 0;
        while (total < excess && reader.Read())
        {
            seq = reader.GetInt64(0);
            total += reader.GetInt64(1);
        }
        return seq;
    }

    /// <summary>What a prune removed; <see cref="Lost"/> counts those after the export cursor (lost to the fleet).</summary>
    public readonly record struct PruneResult(long Removed, long RemovedBytes, long Lost, long LostFirst, long LostLast);

    /// <summary>
    /// Deletes every detection through <paramref name="cutoff"/> in one transaction; those after
    /// <paramref name="exportCursor"/> are added to the persisted export loss in the same transaction, so a crash can
    /// neither lose nor double the count.
    /// </summary>
    public PruneResult PruneThrough(long cutoff, ulong? exportCursor)
    {
        PruneResult result;
        using (var transaction = _connection.BeginTransaction())
        {
            var removedBytes = ScalarLong("SELECT COALESCE(SUM(length(payload)), 0) FROM detections WHERE seq <= $p", cutoff, transaction);
            var removed = ScalarLong("SELECT COUNT(*) FROM detections WHERE seq <= $p", cutoff, transaction);
            (long Count, long First, long Last) lost = default;
            if (exportCursor is { } acked && (ulong)cutoff > acked)
            {
                using var unexported = Command("SELECT COUNT(*), COALESCE(MIN(seq), 0), COALESCE(MAX(seq), 0) FROM detections WHERE seq > $c AND seq <= $p", transaction);
                unexported.Parameters.AddWithValue("$c", (long)acked);
                unexported.Parameters.AddWithValue("$p", cutoff);
                using (var r = unexported.ExecuteReader())
                    if (r.Read()) lost = (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2));
                if (lost.Count > 0)
                {
                    using var count = Command("UPDATE meta SET value = value + $n WHERE key = 'export_lost'", transaction);
                    count.Parameters.AddWithValue("$n", lost.Count);
                    count.ExecuteNonQuery();
                }
            }
            using (var delete = Command("DELETE FROM detections WHERE seq <= $p", transaction))
            {
                delete.Parameters.AddWithValue("$p", cutoff);
                delete.ExecuteNonQuery();
            }
            transaction.Commit();
            result = new PruneResult(removed, removedBytes, lost.Count, lost.First, lost.Last);
        }
        Execute("PRAGMA incremental_vacuum");
        return result;
    }

    public void Dispose()
    {
        _insertMany?.Dispose();
        _insertOne?.Dispose();
        _connection.Dispose();
    }

    private void InitializeSchema(JournalSync sync)
    {
        // auto_vacuum must be set before the first table exists; it lets retention give space back.
        Execute("PRAGMA auto_vacuum = INCREMENTAL");
        var mode = ScalarString("PRAGMA journal_mode = WAL");
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            throw new ServerConfigurationException($"the journal {Path} cannot use WAL mode (got '{mode}')");
        Execute(sync == JournalSync.Full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
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
        using (var insert = Command("INSERT OR IGNORE INTO identity (key, value) VALUES ('journal_id', $id)"))
        {
            insert.Parameters.AddWithValue("$id", Guid.NewGuid().ToString("N"));
            insert.ExecuteNonQuery();
        }
        return ScalarString("SELECT value FROM identity WHERE key = 'journal_id'")!;
    }

    private void LoadState()
    {
        // The meta row is updated in each batch's transaction, so it survives even when retention empties the table.
        LastSequence = (ulong)Math.Max(ScalarLong("SELECT value FROM meta WHERE key = 'last_sequence'"),
                                       ScalarLong("SELECT COALESCE(MAX(seq), 0) FROM detections"));
        MinSequence = (ulong)ScalarLong("SELECT COALESCE(MIN(seq), 0) FROM detections");
        PayloadBytes = ScalarLong("SELECT COALESCE(SUM(length(payload)), 0) FROM detections");
        if (ScalarLong("SELECT COUNT(*) FROM meta WHERE key = 'export_cursor'") > 0)
        {
            ExportCursor = (ulong)ScalarLong("SELECT value FROM meta WHERE key = 'export_cursor'");
            ExportLost = ScalarLong("SELECT COALESCE(MAX(value), 0) FROM meta WHERE key = 'export_lost'");
        }
        using var command = Command("SELECT rule_id FROM rules");
        using var reader = command.ExecuteReader();
        while (reader.Read()) RuleIds.Add(reader.GetString(0));
    }

    private SqliteCommand Command(string sql, SqliteTransaction? transaction = null)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private void Execute(string sql)
    {
        using var command = Command(sql);
        command.ExecuteNonQuery();
    }

    private string? ScalarString(string sql)
    {
        using var command = Command(sql);
        return command.ExecuteScalar()?.ToString();
    }

    private long ScalarLong(string sql, long? parameter = null, SqliteTransaction? transaction = null)
    {
        using var command = Command(sql, transaction);
        if (parameter is { } p) command.Parameters.AddWithValue("$p", p);
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L);
    }

    /// <summary>
    /// A prepared multi-row INSERT for a fixed number of rows, bound by position. It runs on the store's connection,
    /// inside the transaction <see cref="Append"/> began on it; a failure throws the <see cref="SqliteException"/>
    /// Microsoft.Data.Sqlite would (a full disk must degrade the journal, not end the writer).
    /// </summary>
    private sealed class InsertStatement : IDisposable
    {
        private const int Columns = 5; // seq, committed_ns, rule_id, severity, payload
        private readonly sqlite3 _db;
        private readonly sqlite3_stmt _statement;
        private readonly int _rows;

        public InsertStatement(SqliteConnection connection, int rows)
        {
            _rows = rows;
            _db = connection.Handle!;
            var sql = "INSERT INTO detections (seq, committed_ns, rule_id, severity, payload) VALUES " +
                      string.Join(", ", Enumerable.Repeat("(?, ?, ?, ?, ?)", rows));
            SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(_db, sql, out _statement), _db);
        }

        /// <summary>Inserts the rows starting at <paramref name="start"/>; returns their payload bytes.</summary>
        public long Execute(long now, List<JournalEntry> entries, int start)
        {
            long bytes = 0;
            for (var i = 0; i < _rows; i++)
            {
                var entry = entries[start + i];
                var column = i * Columns + 1;
                Bound(raw.sqlite3_bind_int64(_statement, column, (long)entry.Sequence));
                Bound(raw.sqlite3_bind_int64(_statement, column + 1, now));
                Bound(raw.sqlite3_bind_text(_statement, column + 2, entry.RuleId));
                Bound(raw.sqlite3_bind_int(_statement, column + 3, (int)entry.Severity));
                Bound(raw.sqlite3_bind_blob(_statement, column + 4, entry.Payload));
                bytes += entry.Payload.Length;
            }
            var rc = raw.sqlite3_step(_statement);
            raw.sqlite3_reset(_statement);
            if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, _db);
            return bytes;
        }

        // A refused bind (a value too big) must not let the step insert the previous batch's value in its place.
        private void Bound(int rc)
        {
            if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, _db);
        }

        public void Dispose() => _statement.Dispose();
    }
}
