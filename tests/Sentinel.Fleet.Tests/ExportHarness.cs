using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.Fleet;
using Sentinel.TestSupport;
using AgentStatus = Sentinel.V1.AgentStatus;
using Detection = Sentinel.V1.Detection;

namespace Sentinel.Fleet.Tests;

/// <summary>The test host as a real exporting agent process (server, journal, pipeline, exporter, heartbeat), driven over stdin.</summary>
public sealed class ExportAgent : TestHostProcess
{
    private ExportAgent(string journal, string[] args) : base(journal, args)
    {
    }

    /// <summary>Starts the agent on <paramref name="journal"/> exporting to <paramref name="nats"/> as <paramref name="hostId"/>.</summary>
    public static Task<ExportAgent> StartAsync(string journal, string nats, string hostId, params string[] extra) =>
        ReadyAsync(new ExportAgent(journal, ["--nats", nats, "--host-id", hostId, "--heartbeat-interval", "1", .. extra]));

    public async Task<AgentStatus> StatusAsync()
    {
        var line = await CommandAsync("status");
        return AgentStatus.Parser.ParseJson(line["status ".Length..]);
    }
}

/// <summary>Reads what the fleet stream holds, straight from JetStream (no gateway).</summary>
public static class FleetStream
{
    public static NatsConnection Connect(string urls) =>
        new(new FleetOptions { Servers = FleetOptions.ParseServers(urls) }.ToNatsOpts("fleet-test"));

    /// <summary>Every message of the stream, in stream order, with its Nats-Msg-Id.</summary>
    public static async Task<List<(ulong StreamSeq, string MsgId, Detection Detection)>> ReadAllAsync(NatsConnection nats, string stream = FleetOptions.DefaultStream)
    {
        var js = new NatsJSContext(nats);
        var info = (await js.GetStreamAsync(stream)).Info.State;
        var result = new List<(ulong, string, Detection)>();
        if (info.Messages == 0) return result;
        var consumer = await js.CreateOrderedConsumerAsync(stream, new NatsJSOrderedConsumerOpts { DeliverPolicy = ConsumerConfigDeliverPolicy.All });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var msg in consumer.ConsumeAsync<byte[]>(cancellationToken: timeout.Token))
        {
            var seq = msg.Metadata!.Value.Sequence.Stream;
            result.Add((seq, msg.Headers?["Nats-Msg-Id"].ToString() ?? "", Detection.Parser.ParseFrom(msg.Data)));
            if (seq >= info.LastSeq) break;
        }
        return result;
    }

    /// <summary>Waits (bounded) until the stream holds at least <paramref name="count"/> messages.</summary>
    public static async Task WaitForCountAsync(NatsConnection nats, ulong count, TimeSpan timeout, string stream = FleetOptions.DefaultStream)
    {
        var js = new NatsJSContext(nats);
        ulong seen = 0;
        await Wait.UntilAsync(async () =>
        {
            try
            {
                seen = (ulong)(await js.GetStreamAsync(stream)).Info.State.Messages;
            }
            catch (NatsJSApiException) { }
            catch (NatsException) { }
            return seen >= count;
        }, $"stream {stream} to hold {count} messages", (int)timeout.TotalSeconds, () => $"it holds {seen}");
    }

    /// <summary>Asserts the stream holds exactly sequences 1..<paramref name="last"/> of the host, once each, in order.</summary>
    public static void AssertExactlyOnceInOrder(IEnumerable<(ulong StreamSeq, string MsgId, Detection Detection)> messages, string hostId, ulong last, string journalId)
    {
        var mine = messages.Where(m => m.Detection.HostId == hostId).ToList();
        var seqs = mine.Select(m => m.Detection.AgentSequence).ToList();
        Assert.Equal(seqs.Distinct().Count(), seqs.Count); // no duplicate
        Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (ulong)i), seqs); // nothing lost, in order
        Assert.All(mine, m =>
        {
            Assert.Equal(journalId, m.Detection.JournalId);
            Assert.Equal($"{journalId}:{m.Detection.AgentSequence}", m.MsgId);
        });
    }
}
