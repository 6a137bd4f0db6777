using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Sentinel.Events;
using Sentinel.Server;
using Sentinel.Server.Journal;
using Sentinel.TestSupport;
using Sentinel.V1;

namespace Sentinel.Reliability.Tests;

[Collection(LiveAgents.Name)]
public sealed class JournalFaultTests
{
    /// <summary>
    /// The journal's disk fills while detections keep coming: they keep reaching stdout and the gRPC stream with
    /// gap-free sequences, status says the journal is degraded, SNT-0009 is raised, and once space returns every
    /// detection is on disk and the database passes integrity_check.
    /// </summary>
    [LiveFact]
    public async Task Full_disk_degrades_the_journal_without_losing_delivery_and_it_recovers()
    {
        var mount = Directory.CreateTempSubdirectory("sentinel-fulldisk-").FullName;
        Run("mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", mount);
        try
        {
            var journalPath = Path.Combine(mount, "journal.db");
            var port = NatsServers.FreePort();
            using var agent = SentinelProcess.Start("run", "--journal", journalPath, "--listen", $"127.0.0.1:{port}", "--format", "json");
            agent.WaitForStderr("serving gRPC", 180);
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
            var client = new DetectionService.DetectionServiceClient(channel);
            using var stream = client.StreamDetections(new StreamDetectionsRequest { AfterSequence = 0, Follow = true });
            var streamed = new List<V1.Detection>();
            var reader = Task.Run(async () =>
            {
                try
                {
                    await foreach (var d in stream.ResponseStream.ReadAllAsync())
                        lock (streamed) streamed.Add(d);
                }
                catch (RpcException) { }
            });

            // Detections until the disk is full: each ESRCH call on another pid fires SNT-0001. Bounded by time, not
            // rounds: calls are far faster than journal commits, so a round count ends before a slow agent commits.
            AgentStatus status = await client.GetStatusAsync(new GetStatusRequest());
            var fillDeadline = DateTime.UtcNow.AddSeconds(120);
            while (!status.Journal.Degraded && DateTime.UtcNow < fillDeadline)
            {
                CallUnknownPid(25);
                await Task.Delay(10);
                status = await client.GetStatusAsync(new GetStatusRequest());
            }
            Assert.True(status.Journal.Degraded, $"the 400 KiB journal never filled (last sequence {status.Journal.LastSequence}); agent stderr:\n{agent.Stderr}");
            Assert.Contains("full", status.Journal.DegradedReason, StringComparison.OrdinalIgnoreCase);

            // Still delivered while degraded, SNT-0009 among them.
            agent.WaitUntil(() => agent.StdoutLines.Any(l => l.Contains("\"SNT-0009\"")), "SNT-0009 on stdout");
            CallUnknownPid(50);
            await Wait.UntilAsync(async () => (status = await client.GetStatusAsync(new GetStatusRequest())).Journal.Unsaved >= 50, "unsaved detections");
            var lastWhileFull = status.Journal.LastSequence;
            await Wait.UntilAsync(() => Count(streamed) >= (int)lastWhileFull, "the stream to catch up while degraded");
            agent.WaitUntil(() => agent.StdoutLines.Count(l => l.Contains("\"ruleId\"")) >= (int)lastWhileFull, "stdout to catch up while degraded");
            lock (streamed)
            {
                Assert.Equal(Enumerable.Range(1, streamed.Count).Select(i => (ulong)i), streamed.Select(d => d.Sequence));
                Assert.Contains(streamed, d => d.RuleId == "SNT-0009");
            }

            // Space returns: the backlog is written and the journal is healthy again.
            Run("mount", "-o", "remount,size=64m", mount);
            await Wait.UntilAsync(async () => !(status = await client.GetStatusAsync(new GetStatusRequest())).Journal.Degraded, "the journal to leave degraded mode");
            Assert.Equal(0UL, status.Journal.Unsaved);
            var last = status.Journal.LastSequence;

            agent.Signal("TERM");
            Assert.Equal(0, agent.WaitForExit(TimeSpan.FromSeconds(60)));
            await reader;

            using var db = new SqliteConnection($"Data Source={journalPath};Mode=ReadOnly");
            db.Open();
            Assert.Equal("ok", Scalar(db, "PRAGMA integrity_check"));
            var count = Convert.ToInt64(Scalar(db, "SELECT COUNT(*) FROM detections"));
            Assert.Equal(1L, Convert.ToInt64(Scalar(db, "SELECT MIN(seq) FROM detections")));
            var max = Convert.ToInt64(Scalar(db, "SELECT MAX(seq) FROM detections"));
            Assert.Equal(max, count); // gap-free on disk
            Assert.True(max >= (long)last, $"on disk through {max}, status said {last}");
            Assert.Equal(1L, Convert.ToInt64(Scalar(db, "SELECT COUNT(*) FROM detections WHERE rule_id = 'SNT-0009'")));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Run("umount", "-l", mount);
            Directory.Delete(mount, recursive: true);
        }
    }

    /// <summary>A journal file that is not a database, or whose pages are damaged, is moved aside and a new journal starts.</summary>
    [Theory]
    [InlineData("garbage")]
    [InlineData("damaged-pages")]
    public async Task Corrupt_journal_at_start_is_moved_aside_and_a_new_one_starts(string damage)
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-corrupt-").FullName;
        var path = Path.Combine(dir, "journal.db");
        string oldId;
        {
            await using var first = new DetectionJournal(new ServerOptions { JournalPath = path });
            await first.StartAsync(CancellationToken.None);
            for (var i = 0; i < 300; i++) first.OnDetection(Synthetic(i));
            await first.WaitForCommitAsync(299, CancellationToken.None);
            oldId = first.JournalId;
            await first.StopAsync(CancellationToken.None);
        }
        SqliteConnection.ClearAllPools();
        var bytes = File.ReadAllBytes(path);
        if (damage == "garbage")
            bytes = System.Text.Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("not a database ", 500)));
        else
            for (var i = 4096 * 2; i < bytes.Length - 4096; i += 4096) Array.Fill<byte>(bytes, 0xA5, i, 512); // every page after the first two
        File.WriteAllBytes(path, bytes);

        var log = new ListLogger();
        await using var journal = new DetectionJournal(new ServerOptions { JournalPath = path }, log);
        await journal.StartAsync(CancellationToken.None);
        await journal.WaitForCommitAsync(0, CancellationToken.None);

        Assert.NotNull(journal.MovedAside);
        Assert.True(File.Exists(journal.MovedAside), "the corrupt file is kept for forensics");
        Assert.Equal(bytes, File.ReadAllBytes(journal.MovedAside!));
        Assert.NotEqual(oldId, journal.JournalId);
        var message = Assert.Single(log.Errors);
        Assert.Contains("corrupt", message);
        Assert.Contains(journal.MovedAside!, message);
        Assert.Contains(journal.JournalId, message);
        // The reset itself is the first detection of the new journal.
        var read = new List<V1.Detection>();
        journal.ReadAfter(0, 10, read);
        var reset = Assert.Single(read);
        Assert.Equal(("SNT-0010", 1UL, journal.JournalId), (reset.RuleId, reset.Sequence, reset.JournalId));
        Directory.Delete(dir, recursive: true);
    }

    private static Events.Detection Synthetic(int i) => new()
    {
        Rule = new RuleInfo { Id = "SNT-9999", Version = "1", Name = "synthetic" }, Time = DateTimeOffset.UtcNow,
        Message = $"synthetic {i}", Event = new MovePagesEvent { Pid = 1000 + i, Comm = "t" },
    };

    private static int _unknownPid = int.MaxValue;

    /// <summary>ESRCH calls, each on another nonexistent pid: identical calls would fold into one record and one detection.</summary>
    private static unsafe void CallUnknownPid(int calls)
    {
        for (var i = 0; i < calls; i++) MovePagesCalls.MovePages(Interlocked.Decrement(ref _unknownPid), 0, null, null, null, 0);
    }

    private static int Count(List<V1.Detection> list) { lock (list) return list.Count; }

    private static object? Scalar(SqliteConnection db, string sql)
    {
        using var command = db.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private static void Run(string file, params string[] args) => ChildProcess.RunChecked(file, args);

    private sealed class ListLogger : ILogger<DetectionJournal>
    {
        public List<string> Errors { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error) lock (Errors) Errors.Add(formatter(state, exception));
        }
    }
}
