using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Data.Sqlite;
using Sentinel.TestSupport;
using Sentinel.V1;

namespace Sentinel.Reliability.Tests;

/// <summary>
/// Real loss, end to end: the agent (real probes, real ring buffer) is frozen with SIGSTOP, so its reader stops
/// draining, while this process floods it with calls that cannot fold (a different target pid each). The ring
/// fills and the kernel drops the rest. Once the agent runs again, SNT-0000 must reach the journal, a gRPC
/// stream client and stdout, with counts that add up to the kernel's lost counter that `status` and /metrics show.
/// </summary>
[Collection(LiveAgents.Name)]
public sealed partial class EventsLostTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Calls = 20_000; // about three times what the 4 MiB ring holds
    private const int UnknownPid = 0x3ffffff0; // above pid_max: ESRCH at once, and every target distinct

    [LiveFact]
    public async Task A_distinct_call_flood_past_a_frozen_reader_raises_snt_0000_through_every_channel()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-lost-").FullName;
        var journalPath = Path.Combine(dir, "journal.db");
        var (port, metricsPort) = (NatsServers.FreePort(), NatsServers.FreePort());
        using var agent = SentinelProcess.Start("run", "--journal", journalPath, "--listen", $"127.0.0.1:{port}",
            "--metrics", $"127.0.0.1:{metricsPort}", "--format", "json");
        agent.WaitForStderr("serving gRPC", 180);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
        var client = new DetectionService.DetectionServiceClient(channel);
        using var stream = client.StreamDetections(new StreamDetectionsRequest { AfterSequence = 0, Follow = true });
        var lossDetections = new List<V1.Detection>();
        var reader = Task.Run(async () =>
        {
            try
            {
                await foreach (var d in stream.ResponseStream.ReadAllAsync())
                    if (d.RuleId == "SNT-0000") lock (lossDetections) lossDetections.Add(d);
            }
            catch (RpcException) { }
        });
        agent.Signal("STOP");
        // SIGSTOP is asynchronous: the window's start is the agent's last check, so the flood waits until every
        // thread has really stopped (a CI run saw a check 6 ms after an unconfirmed stop).
        agent.WaitUntil(() => AllThreadsStopped(agent.Id), "every agent thread to stop");
        var floodStart = DateTimeOffset.UtcNow;
        DateTimeOffset floodEnd;
        try
        {
            Flood();
        }
        finally
        {
            floodEnd = DateTimeOffset.UtcNow;
            agent.Signal("CONT");
        }

        // Every loss is reported: the SNT-0000 detections on the stream add up to the kernel's lost counter.
        AgentStatus status = null!;
        await Wait.UntilAsync(async () =>
        {
            status = await client.GetStatusAsync(new GetStatusRequest());
            return status.Counters.LostInKernel > 0 && SumLost(lossDetections) == status.Counters.LostInKernel;
        }, "SNT-0000 on the stream to account for every loss the kernel counted", 90);
        var lost = status.Counters.LostInKernel;
        output.WriteLine($"{Calls} distinct calls with the reader frozen: {lost} lost, " +
                         $"raised in {lossDetections.Count} SNT-0000 detection(s)");
        // The ring holds about 6,600 records; everything past that was lost.
        Assert.True(lost >= Calls / 2, $"only {lost} of {Calls} calls lost");
        Assert.Equal((ulong)lossDetections.Count, status.Counters.LossDetections);
        V1.Detection first;
        lock (lossDetections) first = lossDetections[0];
        Assert.Contains("events lost", first.Message);
        Assert.True(DateTimeOffset.Parse(first.Fields["window_start"], CultureInfo.InvariantCulture) <=
                    DateTimeOffset.Parse(first.Fields["window_end"], CultureInfo.InvariantCulture));
        Assert.Equal(V1.Severity.High, first.Severity);
        // The window holds the flood: it starts at the agent's last check before it was frozen and ends at its
        // first check after (a frozen agent cannot look sooner). The fields are in whole milliseconds.
        Assert.True(WindowStart(first) <= floodStart, $"window starts {WindowStart(first):O}, the flood began {floodStart:O}");
        V1.Detection last;
        lock (lossDetections) last = lossDetections[^1];
        Assert.True(WindowEnd(last) >= floodEnd.AddMilliseconds(-1), $"window ends {WindowEnd(last):O}, the flood ended {floodEnd:O}");

        // A flood the running agent cannot keep up with: SNT-0000 comes while it lasts, a window a second.
        var before = LossCount(lossDetections);
        var floodTime = System.Diagnostics.Stopwatch.StartNew();
        var calls = FloodUntil(() => LossCount(lossDetections) >= before + 3, TimeSpan.FromSeconds(90));
        List<V1.Detection> flood;
        lock (lossDetections) flood = lossDetections.Skip(before).ToList();
        var spans = flood.Select(d => WindowEnd(d) - WindowStart(d)).ToList();
        output.WriteLine($"running agent, {calls} distinct calls in {floodTime.Elapsed.TotalSeconds:F1} s: SNT-0000 windows (ms) " +
                         string.Join(", ", spans.Select(w => w.TotalMilliseconds)));
        Assert.True(flood.Count >= 3, $"{flood.Count} SNT-0000 while {calls} distinct calls flooded the running agent");
        // The agent's watch thread checks every 10 ms and closes a window at the first check 1 s after its start;
        // 750 ms covers that check waiting for a core on a loaded 2-core machine (a whole test suite in parallel
        // reaches load averages of 30; see FloodTests.WindowSlack).
        Assert.All(spans, w => Assert.InRange(w, TimeSpan.Zero, TimeSpan.FromMilliseconds(1_750)));
        for (var i = 1; i < flood.Count; i++)
            Assert.True(WindowStart(flood[i]) >= WindowEnd(flood[i - 1]), $"window {i} starts before window {i - 1} ends");
        await Wait.UntilAsync(async () =>
        {
            status = await client.GetStatusAsync(new GetStatusRequest());
            return SumLost(lossDetections) == status.Counters.LostInKernel;
        }, "SNT-0000 on the stream to account for the running flood's losses", 90);
        lost = status.Counters.LostInKernel;

        // `status`, the real CLI, shows the same counts.
        var (code, text, err) = SentinelProcess.Run("status", "--server", $"127.0.0.1:{port}");
        Assert.True(code == 0, err);
        var counts = StatusLine().Match(text);
        Assert.True(counts.Success, text);
        Assert.True(ulong.Parse(counts.Groups[1].Value) >= lost, text);
        Assert.True(ulong.Parse(Regex.Match(text, @"loss detections \(SNT-0000\) (\d+)").Groups[1].Value) >= (ulong)lossDetections.Count, text);

        // /metrics, scraped over HTTP.
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics");
        Assert.True(Metric(metrics, "sentinel_kernel_lost_events_total") >= lost, metrics);
        Assert.True(Metric(metrics, "sentinel_loss_detections_total") >= lossDetections.Count, metrics);

        // stdout (the SIEM's JSON lines) carries it too.
        agent.WaitUntil(() => agent.StdoutLines.Any(l => l.Contains("\"SNT-0000\"")), "SNT-0000 on stdout");

        agent.Signal("TERM");
        Assert.Equal(0, agent.WaitForExit(TimeSpan.FromSeconds(120)));
        await reader;

        // And the journal holds every one, with the same counts.
        using (var db = new SqliteConnection($"Data Source={journalPath};Mode=ReadOnly"))
        {
            db.Open();
            using var query = db.CreateCommand();
            query.CommandText = "SELECT payload FROM detections WHERE rule_id = 'SNT-0000' ORDER BY seq";
            var journaled = new List<V1.Detection>();
            using (var rows = query.ExecuteReader())
                while (rows.Read()) journaled.Add(V1.Detection.Parser.ParseFrom((byte[])rows[0]));
            Assert.True(SumLost(journaled) >= lost, $"the journal reports {SumLost(journaled)} lost, the kernel counted {lost}");
            Assert.Equal(lossDetections.Select(d => d.Sequence), journaled.Take(lossDetections.Count).Select(d => d.Sequence));
        }
        SqliteConnection.ClearAllPools();
        Directory.Delete(dir, recursive: true);
    }

    private static unsafe void Flood()
    {
        var page = stackalloc ulong[1] { 0x8000 };
        var status = stackalloc int[1];
        for (var i = 0; i < Calls; i++) MovePagesCalls.MovePages(UnknownPid - 1 - i, 1, page, null, status, 0);
    }

    /// <summary>Distinct calls until <paramref name="done"/> holds (checked every 1,000 calls); returns the calls made.</summary>
    private static unsafe long FloodUntil(Func<bool> done, TimeSpan timeout)
    {
        var page = stackalloc ulong[1] { 0x9000 };
        var status = stackalloc int[1];
        var deadline = DateTime.UtcNow + timeout;
        long calls = 0;
        while (!done())
        {
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"still waiting after {calls} calls");
            for (var j = 0; j < 1000; j++, calls++)
                MovePagesCalls.MovePages(UnknownPid - 1 - (int)(calls % 100_000_000), 1, page, null, status, 0);
        }
        return calls;
    }

    private static int LossCount(List<V1.Detection> list)
    {
        lock (list) return list.Count;
    }

    private static DateTimeOffset WindowStart(V1.Detection d) => DateTimeOffset.Parse(d.Fields["window_start"], CultureInfo.InvariantCulture);
    private static DateTimeOffset WindowEnd(V1.Detection d) => DateTimeOffset.Parse(d.Fields["window_end"], CultureInfo.InvariantCulture);

    private static ulong SumLost(List<V1.Detection> list)
    {
        lock (list) return (ulong)list.Sum(d => long.Parse(d.Fields["lost"], CultureInfo.InvariantCulture));
    }

    private static double Metric(string text, string name) =>
        double.Parse(Regex.Match(text, $@"^{name} (\S+)$", RegexOptions.Multiline).Groups[1].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"lost in kernel (\d+)")]
    private static partial Regex StatusLine();

    /// <summary>Whether every thread of the process is in the stopped state ('T') in /proc.</summary>
    private static bool AllThreadsStopped(int pid)
    {
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                if (stat[stat.LastIndexOf(')') + 2] is not ('T' or 't')) return false;
            }
            catch (IOException)
            {
                // The thread exited between listing and reading.
            }
        }
        return true;
    }
}
