using Microsoft.Data.Sqlite;
using Sentinel.Server.Journal;
using Severity = Sentinel.Events.Severity;
using Sentinel.TestSupport;

namespace Sentinel.Server.Tests;

public sealed class DetectionJournalTests
{
    private static async Task<DetectionJournal> OpenAsync(string path, Action<ServerOptions>? configure = null)
    {
        var options = new ServerOptions { JournalPath = path };
        configure?.Invoke(options);
        var journal = new DetectionJournal(options);
        await journal.StartAsync(CancellationToken.None);
        return journal;
    }

    private static async Task EmitAsync(DetectionJournal journal, int count, string rule = "SNT-0001")
    {
        var target = journal.Range.Last + (ulong)count;
        for (var i = 0; i < count; i++) journal.OnDetection(ServerHarness.MakeDetection(rule, Severity.Medium, i));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (journal.Range.Last < target) await journal.WaitForCommitAsync(journal.Range.Last, timeout.Token);
    }

    [Fact]
    public async Task Uses_wal_and_continues_sequences_after_reopening()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "j.db");
        await using (var journal = await OpenAsync(path)) await EmitAsync(journal, 10);
        await using (var journal = await OpenAsync(path))
        {
            Assert.Equal(new JournalRange(1, 10), journal.Range);
            Assert.True(journal.KnowsRule("SNT-0001")); // rule ids persist, so rule_ids filters work after a restart
            Assert.False(journal.KnowsRule("SNT-0404"));
            await EmitAsync(journal, 5);
            var all = new List<V1.Detection>();
            journal.ReadAfter(0, 100, all);
            Assert.Equal(Enumerable.Range(1, 15).Select(i => (ulong)i), all.Select(d => d.Sequence));
        }
        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", command.ExecuteScalar());
    }

    [Fact]
    public async Task A_blocked_output_does_not_stall_commits_and_gets_everything_in_order_once_it_moves()
    {
        using var dir = new TempDir();
        var options = new ServerOptions { JournalPath = Path.Combine(dir.Path, "j.db") };
        var journal = new DetectionJournal(options);
        var stdout = new BlockedSink();
        journal.AddCommittedSink(stdout);
        await journal.StartAsync(CancellationToken.None);
        await using (journal)
        {
            await EmitAsync(journal, 1);
            Assert.True(stdout.Entered.Wait(TimeSpan.FromSeconds(60)), "the sink never saw the first detection");
            // The sink now blocks (stdout into a full pipe): later batches are still committed and readable.
            await EmitAsync(journal, 500);
            Assert.Equal(501UL, journal.Range.Last);
            stdout.Release.Set();
            await Wait.UntilAsync(() => stdout.Sequences.Count >= 501, "the released sink to see all 501");
            Assert.Equal(Enumerable.Range(1, 501).Select(i => (ulong)i), stdout.Sequences);
            Assert.Equal(0, journal.CommittedSinkDropped);
        }
    }

    private sealed class BlockedSink : Events.IDetectionSink
    {
        public ManualResetEventSlim Entered { get; } = new();
        public ManualResetEventSlim Release { get; } = new();
        public List<ulong> Sequences { get; } = [];

        public void OnDetection(Events.Detection detection)
        {
            Entered.Set();
            Release.Wait();
            lock (Sequences) Sequences.Add(detection.Sequence);
        }
    }

    [Fact]
    public async Task Detections_handed_over_before_stop_are_all_committed_by_stop()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "j.db");
        await using (var journal = await OpenAsync(path))
        {
            for (var i = 0; i < 5000; i++) journal.OnDetection(ServerHarness.MakeDetection("SNT-0001", Severity.Low, i));
            await journal.StopAsync(CancellationToken.None);
            journal.OnDetection(ServerHarness.MakeDetection("SNT-0001", Severity.Low, 5001)); // late, after stop
        }
        await using var reopened = await OpenAsync(path);
        Assert.Equal(new JournalRange(1, 5001), reopened.Range);
    }

    [Fact]
    public async Task Retention_by_age_prunes_a_prefix_and_sequences_continue_even_when_all_is_pruned()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "j.db");
        await using (var journal = await OpenAsync(path, o => o.RetentionAge = TimeSpan.FromHours(1)))
        {
            await EmitAsync(journal, 20);
            journal.Prune(DateTimeOffset.UtcNow); // nothing is an hour old yet
            Assert.Equal(new JournalRange(1, 20), journal.Range);
            journal.Prune(DateTimeOffset.UtcNow.AddHours(2));
            Assert.True(journal.Range.IsEmpty);
            Assert.Equal(21ul, journal.Range.First);
            Assert.Equal(20, journal.Pruned);
            var none = new List<V1.Detection>();
            journal.ReadAfter(20, 10, none);
            Assert.Empty(none);
        }
        await using (var journal = await OpenAsync(path))
        {
            Assert.Equal(new JournalRange(21, 20), journal.Range);
            await EmitAsync(journal, 2);
            Assert.Equal(new JournalRange(21, 22), journal.Range);
        }
    }

    [Fact]
    public async Task Retention_by_size_keeps_the_newest_within_the_limit()
    {
        using var dir = new TempDir();
        await using var journal = await OpenAsync(Path.Combine(dir.Path, "j.db"), o => o.RetentionBytes = 50_000);
        await EmitAsync(journal, 1000);
        var before = journal.PayloadBytes;
        journal.Prune(DateTimeOffset.UtcNow);

        Assert.True(before > 50_000);
        Assert.InRange(journal.PayloadBytes, 1, 50_000);
        Assert.Equal(1000ul, journal.Range.Last);
        var kept = new List<V1.Detection>();
        journal.ReadAfter(journal.Range.First - 1, 10_000, kept);
        Assert.Equal((int)(1000 - journal.Range.First + 1), kept.Count);
        Assert.Equal(journal.Range.First, kept[0].Sequence);
    }

    [Fact]
    public void An_unwritable_journal_path_is_a_clear_configuration_error()
    {
        var ex = Assert.Throws<ServerConfigurationException>(() => new DetectionJournal(new ServerOptions { JournalPath = "/proc/sentinel/j.db" }));
        Assert.Contains("/proc/sentinel/j.db", ex.Message);
    }
}
