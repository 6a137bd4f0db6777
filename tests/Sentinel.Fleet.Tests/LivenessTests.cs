using System.Diagnostics;
using System.Text.Json;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Sentinel.Fleet.Export;
using Sentinel.TestSupport;
using Heartbeat = Sentinel.V1.Heartbeat;

namespace Sentinel.Fleet.Tests;

/// <summary>Heartbeats from real agent processes, read from NATS as a gateway would; and real `sentinel run` agents as distinct hosts.</summary>
[Collection("fleet")]
public sealed class LivenessTests
{
    [Fact]
    public async Task Heartbeats_arrive_on_schedule_with_the_fields_filled_and_the_last_says_stopping()
    {
        using var servers = await NatsServers.StartSingleAsync();
        await using var nats = FleetStream.Connect(servers.Urls);
        var beats = new List<Heartbeat>();
        var got = new SemaphoreSlim(0);
        using var listening = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var subscription = Task.Run(async () =>
        {
            await foreach (var msg in nats.SubscribeAsync<byte[]>(FleetSubjects.Heartbeat("host-beat"), cancellationToken: listening.Token))
            {
                lock (beats) beats.Add(Heartbeat.Parser.ParseFrom(msg.Data));
                got.Release();
            }
        });
        await nats.PingAsync(); // the subscription is registered before the agent starts

        var journal = Path.Combine(Directory.CreateTempSubdirectory("sentinel-beat-").FullName, "journal.db");
        using var agent = await ExportAgent.StartAsync(journal, servers.Urls, "host-beat");
        var last = await agent.EmitAsync(20);
        var status = await agent.StatusAsync();
        for (var i = 0; i < 4; i++) Assert.True(await got.WaitAsync(TimeSpan.FromSeconds(30)), "a heartbeat every second");
        await Wait.UntilAsync(async () => (await agent.StatusAsync()).Export.AckedSequence == last, "the export to catch up");
        Assert.True(await got.WaitAsync(TimeSpan.FromSeconds(30)));
        await agent.QuitAsync();
        await Wait.UntilAsync(() => Snapshot(beats).Any(b => b.Stopping), "the stopping heartbeat");

        var all = Snapshot(beats);
        var beat = all[^2]; // the last regular one, after the export caught up
        Assert.Equal("host-beat", beat.HostId);
        Assert.Equal(1000U, beat.IntervalMs);
        Assert.False(string.IsNullOrEmpty(beat.Version));
        Assert.Equal(status.Journal.JournalId, beat.JournalId);
        Assert.Equal(last, beat.JournalLastSequence);
        Assert.Equal(last, beat.ExportAckedSequence);
        Assert.Equal(0UL, beat.ExportLostToRetention);
        Assert.Equal(20UL, beat.Counters.Detections);
        Assert.NotNull(beat.StartedAt);
        Assert.False(beat.Stopping);
        Assert.True(all[^1].Stopping);
        Assert.Single(all, b => b.Stopping);
        // On schedule: after the first (sent as soon as the connection is up), one per interval, never a burst
        // (generous bounds for a loaded machine).
        var regular = all.Where(b => !b.Stopping).Select(b => b.Time.ToDateTimeOffset()).Skip(1).ToList();
        Assert.True(regular.Count >= 3);
        for (var i = 1; i < regular.Count; i++)
            Assert.InRange((regular[i] - regular[i - 1]).TotalSeconds, 0.45, 3.0);

        // The heartbeat stream keeps the last one per host, for a gateway that starts later.
        var js = new NatsJSContext(nats);
        var stream = await js.GetStreamAsync(StreamProvisioner.HeartbeatStream);
        Assert.Equal(1L, stream.Info.State.Messages);
        listening.Cancel();
        await subscription.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>
    /// Two real agents (`sentinel run`, live probes attached in both processes at once) and one test-host agent on
    /// one machine, as three hosts: a real cross-process move_pages call reaches the stream from both live agents,
    /// each with its own host_id, journal_id and agent_sequence.
    /// </summary>
    [LiveFact]
    public async Task Several_agents_as_distinct_hosts_on_one_machine_export_a_live_detection_each()
    {
        using var servers = await NatsServers.StartSingleAsync();
        var dir = Directory.CreateTempSubdirectory("sentinel-hosts-").FullName;
        using var synthetic = await ExportAgent.StartAsync(Path.Combine(dir, "synthetic.db"), servers.Urls, "host-synthetic");
        var live = new List<(string Host, string Listen, SentinelProcess Process)>();
        try
        {
            foreach (var host in new[] { "host-live-1", "host-live-2" })
            {
                var listen = $"127.0.0.1:{NatsServers.FreePort()}";
                live.Add((host, listen, SentinelProcess.Start("run", "--format", "json", "--listen", listen,
                    "--journal", Path.Combine(dir, host + ".db"), "--rules", RepoPaths.Rules,
                    "--nats", servers.Urls, "--host-id", host, "--heartbeat-interval", "1")));
            }
            foreach (var (_, _, p) in live)
            {
                p.WaitForStderr("attached move_pages probes", 90);
                p.WaitForStderr("exporting detections as host");
            }
            await synthetic.EmitAsync(5);

            var (code, output, error) = SentinelProcess.Run("simulate", "cross-process", "--json");
            Assert.True(code == 0, error);
            var callerPid = JsonDocument.Parse(output).RootElement.GetProperty("callerPid").GetInt32();

            await using var nats = FleetStream.Connect(servers.Urls);
            List<(ulong StreamSeq, string MsgId, V1.Detection Detection)> all = [];
            await Wait.UntilAsync(async () =>
            {
                all = await FleetStream.ReadAllAsync(nats);
                return live.All(l => all.Any(m => m.Detection.HostId == l.Host && m.Detection.Event?.Context?.Pid == callerPid));
            }, "the cross-process detection from both live agents", 90);

            foreach (var (host, listen, _) in live)
            {
                var (statusCode, statusJson, statusErr) = SentinelProcess.Run("status", "--server", listen, "--json");
                Assert.True(statusCode == 0, statusErr);
                var status = JsonDocument.Parse(statusJson).RootElement;
                var journalId = status.GetProperty("journal").GetProperty("journalId").GetString();
                var fromHost = all.Where(m => m.Detection.HostId == host).ToList();
                // Other move_pages activity on the machine may also fire SNT-0001; the scenario's caller is the one we know.
                var d = fromHost.First(m => m.Detection.Event?.Context?.Pid == callerPid && m.Detection.RuleId == "SNT-0001");
                Assert.Equal(journalId, d.Detection.JournalId);
                Assert.Equal($"{journalId}:{d.Detection.AgentSequence}", d.MsgId);
                // agent_sequence is the sequence the agent's own journal gave it.
                var (streamCode, streamOut, _) = SentinelProcess.Run("stream", "--server", listen, "--after", "0", "--format", "json");
                Assert.Equal(0, streamCode);
                Assert.Contains(streamOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement),
                    j => j.GetProperty("ruleId").GetString() == "SNT-0001" && ulong.Parse(j.GetProperty("sequence").GetString()!) == d.Detection.AgentSequence
                         && j.GetProperty("event").GetProperty("context").GetProperty("pid").GetInt32() == callerPid);
                Assert.True(status.GetProperty("export").GetProperty("connected").GetBoolean());
                Assert.Equal(host, status.GetProperty("hostId").GetString());
            }
            Assert.Contains(all, m => m.Detection.HostId == "host-synthetic");
            // Every message of each host once: the hosts' sequences do not collide.
            Assert.Equal(all.Count, all.Select(m => m.MsgId).Distinct().Count());

            // A `--rules DIR` agent's heartbeat names its pack: version "dir" and the sha256 of the files.
            var js = new NatsJSContext(nats);
            var beat = await js.GetStreamAsync(StreamProvisioner.HeartbeatStream);
            var msg = await beat.GetAsync(new NATS.Client.JetStream.Models.StreamMsgGetRequest { LastBySubj = FleetSubjects.Heartbeat("host-live-1") });
            var hb = Heartbeat.Parser.ParseFrom(msg.Message.Data.Span);
            Assert.Equal("dir", hb.RulePackVersion);
            Assert.Matches("^[0-9a-f]{64}$", hb.RulePackHash);
            Assert.Equal(V1.AttachStrategy.Tracepoint, hb.Strategy);
        }
        finally
        {
            foreach (var (_, _, p) in live) p.Dispose(); // a kill: the orderly stop is not what this test is about
        }
    }

    private static List<Heartbeat> Snapshot(List<Heartbeat> beats)
    {
        lock (beats) return beats.ToList();
    }
}
