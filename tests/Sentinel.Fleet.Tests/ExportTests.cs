using System.Diagnostics;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.Fleet.Export;
using Sentinel.TestSupport;

namespace Sentinel.Fleet.Tests;

/// <summary>
/// The agent's export to a real nats-server (one node, or a 3-node cluster with an R3 stream), through real agent
/// processes: exactly once across SIGKILL, broker outage and node loss; clear errors; retention loss accounted.
/// </summary>
[Collection("fleet")]
public sealed class ExportTests
{
    internal static string Journal() => Path.Combine(Directory.CreateTempSubdirectory("sentinel-export-").FullName, "journal.db");

    private static readonly TimeSpan Arrival = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Agent_sigkilled_mid_export_and_restarted_leaves_every_detection_on_the_stream_exactly_once()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var nats = FleetStream.Connect(servers.Urls);
        var journal = Journal();
        ulong last;
        string journalId;
        ulong onStreamAtKill;
        using (var agent = await ExportAgent.StartAsync(journal, servers.Urls, "host-kill"))
        {
            journalId = (await agent.StatusAsync()).Journal.JournalId;
            await agent.EmitAsync(200);
            await FleetStream.WaitForCountAsync(nats, 1, Arrival); // export is running
            last = await agent.EmitAsync(5000);
            agent.Kill(); // mid-export: 5000 committed a moment ago
            onStreamAtKill = (ulong)(await new NatsJSContext(nats).GetStreamAsync(FleetOptions.DefaultStream)).Info.State.Messages;
        }
        using (var agent = await ExportAgent.StartAsync(journal, servers.Urls, "host-kill"))
        {
            Assert.Equal(journalId, (await agent.StatusAsync()).Journal.JournalId);
            last = await agent.EmitAsync(100);
            await FleetStream.WaitForCountAsync(nats, last, Arrival);
            var status = await agent.StatusAsync();
            await Wait.UntilAsync(async () => (status = await agent.StatusAsync()).Export.AckedSequence == last, "the cursor to reach the end");
            Assert.Equal(0UL, status.Export.Backlog);
        }
        var all = await FleetStream.ReadAllAsync(nats);
        Assert.Equal((int)last, all.Count);
        FleetStream.AssertExactlyOnceInOrder(all, "host-kill", last, journalId);
        Assert.True(onStreamAtKill <= last);
    }

    [Fact]
    public async Task Every_server_stopped_for_10_s_while_detections_keep_coming_then_everything_arrives_in_order_once()
    {
        using var servers = await NatsServers.StartSingleAsync();
        var journal = Journal();
        using var agent = await ExportAgent.StartAsync(journal, servers.Urls, "host-outage");
        var journalId = (await agent.StatusAsync()).Journal.JournalId;
        var last = await agent.EmitAsync(300);
        await using (var nats = FleetStream.Connect(servers.Urls))
            await FleetStream.WaitForCountAsync(nats, last, Arrival);

        foreach (var node in servers.Nodes) node.Stop();
        var outage = Stopwatch.StartNew();
        while (outage.Elapsed < TimeSpan.FromSeconds(10))
            last = await agent.EmitAsync(50); // each returns once journaled: local detection goes on
        var during = await agent.StatusAsync();
        Assert.False(during.Export.Connected);
        Assert.True(during.Export.Backlog > 0);
        Assert.Equal(last, during.Journal.LastSequence);
        foreach (var node in servers.Nodes) node.Start();
        foreach (var node in servers.Nodes) await node.WaitReadyAsync(TimeSpan.FromSeconds(30), jetStreamOnly: true);
        last = await agent.EmitAsync(50);

        await using var reader = FleetStream.Connect(servers.Urls);
        await FleetStream.WaitForCountAsync(reader, last, Arrival);
        var all = await FleetStream.ReadAllAsync(reader);
        FleetStream.AssertExactlyOnceInOrder(all, "host-outage", last, journalId);
        await Wait.UntilAsync(async () => (await agent.StatusAsync()).Export.AckedSequence == last, "the cursor to reach the end");
        await agent.QuitAsync();
        // Said once when it went, once when it came back: no line per retry.
        Assert.Equal(1, Occurrences(agent.Stderr, "export resumes from the cursor when it is back"));
        Assert.Equal(1, Occurrences(agent.Stderr, "reachable again"));
    }

    [Fact]
    public async Task One_of_three_nodes_killed_mid_flood_loses_and_duplicates_nothing_on_the_r3_stream()
    {
        using var servers = await NatsServers.StartClusterAsync();
        using var agent = await ExportAgent.StartAsync(Journal(), servers.Urls, "host-r3", "--nats-replicas", "3");
        var journalId = (await agent.StatusAsync()).Journal.JournalId;
        await using var nats = FleetStream.Connect(servers.Urls);
        ulong last = await agent.EmitAsync(500);
        await FleetStream.WaitForCountAsync(nats, 1, Arrival);
        var info = (await new NatsJSContext(nats).GetStreamAsync(FleetOptions.DefaultStream)).Info;
        Assert.Equal(3, info.Config.NumReplicas);

        // Kill the stream's leader while the flood is being exported: the worst node to lose.
        var leader = info.Cluster?.Leader;
        var victim = servers.Nodes.FirstOrDefault(n => n.Name == leader) ?? servers.Nodes[0];
        var flood = Task.Run(async () =>
        {
            for (var i = 0; i < 8; i++) last = await agent.EmitAsync(500);
        });
        await FleetStream.WaitForCountAsync(nats, 1000, Arrival);
        victim.Kill();
        await flood;

        await FleetStream.WaitForCountAsync(nats, last, Arrival);
        var all = await FleetStream.ReadAllAsync(nats);
        Assert.Equal((int)last, all.Count);
        FleetStream.AssertExactlyOnceInOrder(all, "host-r3", last, journalId);
    }

    [Fact]
    public async Task Unreachable_nats_at_start_the_agent_detects_says_so_once_and_exports_later()
    {
        using var servers = await NatsServers.StartSingleAsync();
        foreach (var node in servers.Nodes) node.Stop();
        using var agent = await ExportAgent.StartAsync(Journal(), servers.Urls, "host-late");
        var last = await agent.EmitAsync(100); // committed locally with no broker
        var status = await agent.StatusAsync();
        Assert.True(status.Export.Enabled);
        Assert.False(status.Export.Connected);
        Assert.Equal(100UL, status.Export.Backlog);
        await Wait.UntilAsync(() => agent.Stderr.Contains("unreachable"), "the agent to say NATS is unreachable");

        foreach (var node in servers.Nodes) node.Start();
        await servers.Nodes[0].WaitReadyAsync(TimeSpan.FromSeconds(30), jetStreamOnly: true);
        await using var nats = FleetStream.Connect(servers.Urls);
        await FleetStream.WaitForCountAsync(nats, last, Arrival);
        var all = await FleetStream.ReadAllAsync(nats);
        FleetStream.AssertExactlyOnceInOrder(all, "host-late", last, status.Journal.JournalId);
        Assert.Equal(1, Occurrences(agent.Stderr, "unreachable"));
    }

    [Fact]
    public async Task A_conflicting_existing_stream_is_a_clear_error_naming_the_setting_and_detection_goes_on()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var nats = FleetStream.Connect(servers.Urls);
        await new NatsJSContext(nats).CreateStreamAsync(new StreamConfig(FleetOptions.DefaultStream, [FleetSubjects.AllDetections])
        {
            Storage = StreamConfigStorage.Memory,
        });
        using var agent = await ExportAgent.StartAsync(Journal(), servers.Urls, "host-conflict");
        await Wait.UntilAsync(() => agent.Stderr.Contains("conflicting configuration"), "the conflict to be reported");
        Assert.Contains("storage is Memory", agent.Stderr);
        Assert.Equal(1, Occurrences(agent.Stderr, "conflicting configuration"));
        var last = await agent.EmitAsync(10);
        var status = await agent.StatusAsync();
        Assert.Equal(last, status.Journal.LastSequence);
        Assert.Contains("storage is Memory", status.Export.LastError);
        Assert.Equal(0L, (await new NatsJSContext(nats).GetStreamAsync(FleetOptions.DefaultStream)).Info.State.Messages);
    }

    [Fact]
    public void Conflicts_name_the_setting()
    {
        var options = new ExportOptions { Replicas = 3, MaxAge = TimeSpan.FromDays(1) };
        var wanted = StreamProvisioner.DetectionsConfig("S", options);
        string? Check(Func<StreamConfig, StreamConfig> change) => StreamProvisioner.Conflict(change(StreamProvisioner.DetectionsConfig("S", options)), wanted, options);

        Assert.Null(Check(c => c));
        Assert.Contains("replicas is 1", Check(c => c with { NumReplicas = 1 }));
        Assert.Contains("subjects [other.>]", Check(c => c with { Subjects = ["other.>"] }));
        Assert.Contains("retention is Workqueue", Check(c => c with { Retention = StreamConfigRetention.Workqueue }), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("discard is new", Check(c => c with { Discard = StreamConfigDiscard.New }));
        Assert.Contains("duplicate_window", Check(c => c with { DuplicateWindow = TimeSpan.FromSeconds(1) }));
        Assert.Contains("max_age", Check(c => c with { MaxAge = TimeSpan.FromDays(2) }));
        Assert.Null(Check(c => c with { Subjects = ["sentinel.>"] }));
    }

    [Fact]
    public async Task Retention_pruning_unexported_detections_is_counted_shown_in_status_and_metrics_and_raised_as_a_detection()
    {
        using var servers = await NatsServers.StartSingleAsync();
        foreach (var node in servers.Nodes) node.Stop();
        var metrics = $"127.0.0.1:{NatsServers.FreePort()}";
        using var agent = await ExportAgent.StartAsync(Journal(), servers.Urls, "host-prune", "--retention-bytes", "4000", "--metrics", metrics);
        var emitted = await agent.EmitAsync(100);
        await agent.CommandAsync("prune");
        var status = await agent.StatusAsync();
        var lost = status.Export.LostToRetention;
        Assert.InRange(lost, 50UL, 99UL); // only the newest few fit in 4000 bytes
        Assert.Equal(status.Journal.Pruned, lost); // nothing was exported, so every pruned detection is lost

        using (var http = new HttpClient())
        {
            var scrape = await http.GetStringAsync($"http://{metrics}/metrics");
            Assert.Contains($"sentinel_export_lost_to_retention_total {lost}", scrape);
        }

        // The loss is itself a detection, journaled after the survivors, and reaches the fleet once NATS is back.
        foreach (var node in servers.Nodes) node.Start();
        await servers.Nodes[0].WaitReadyAsync(TimeSpan.FromSeconds(30), jetStreamOnly: true);
        await using var nats = FleetStream.Connect(servers.Urls);
        await Wait.UntilAsync(async () => (await agent.StatusAsync()).Export.AckedSequence > emitted, "the loss detection to be exported");
        var all = await FleetStream.ReadAllAsync(nats);
        var loss = Assert.Single(all, m => m.Detection.RuleId == "SNT-F003").Detection;
        Assert.Equal("host-prune", loss.HostId);
        Assert.Equal(lost.ToString(), loss.Fields["lost"]);
        Assert.Equal(emitted + 1, loss.AgentSequence);
        // What survived retention was exported, after the gap: nothing duplicated.
        Assert.Equal(all.Count, all.Select(m => m.MsgId).Distinct().Count());
        Assert.Equal((int)(emitted + 1 - lost), all.Count);
    }

    internal static int Occurrences(string text, string what)
    {
        var n = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
