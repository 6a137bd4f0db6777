using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.Fleet;
using Sentinel.TestSupport;

namespace Sentinel.Fleet.Tests;

/// <summary>The real servers the fleet tests stand on: JetStream answers, R3 streams replicate, Nats-Msg-Id dedups.</summary>
public sealed class NatsServersTests
{
    [Fact]
    public async Task Cluster_r3_stream_deduplicates_by_message_id_and_survives_a_node_kill()
    {
        using var servers = await NatsServers.StartClusterAsync();
        var options = new FleetOptions { Servers = FleetOptions.ParseServers(servers.Urls) };
        await using var nats = new NatsConnection(options.ToNatsOpts("test"));
        var js = new NatsJSContext(nats);
        await js.CreateStreamAsync(new StreamConfig("T", [FleetSubjects.AllDetections]) { NumReplicas = 3 });

        for (var i = 1; i <= 2; i++)
        {
            var headers = new NatsHeaders { ["Nats-Msg-Id"] = FleetSubjects.MessageId("j", 1) };
            var ack = await js.PublishAsync(FleetSubjects.Detections("h1"), new byte[] { 1 }, headers: headers);
            // EnsureSuccess() throws on a duplicate: the exporter must treat a duplicate ack as success.
            Assert.Null(ack.Error);
            Assert.Equal(i == 2, ack.Duplicate);
        }

        servers.Nodes[0].Kill();
        // The client reconnects and the stream may elect a new leader: retry (same message id, so at most once)
        // until the surviving nodes acknowledge.
        await Wait.UntilAsync(async () =>
        {
            try
            {
                var ack2 = await js.PublishAsync(FleetSubjects.Detections("h1"), new byte[] { 2 },
                    headers: new NatsHeaders { ["Nats-Msg-Id"] = FleetSubjects.MessageId("j", 2) });
                Assert.Null(ack2.Error);
                return true;
            }
            catch (NatsException) // no responders, no ack, not connected
            {
                return false;
            }
        }, "the surviving nodes to acknowledge a publish");
        var stream = await js.GetStreamAsync("T");
        Assert.Equal(2L, (long)stream.Info.State.Messages);
    }

    [Theory]
    [InlineData("nats://127.0.0.1:4222", true)]
    [InlineData("nats://a:1, tls://b:2", true)]
    [InlineData("http://x:1", false)]
    [InlineData("nats://nohost", false)]
    [InlineData(" , ", false)]
    public void Server_lists_are_parsed_or_refused_in_one_line(string value, bool ok)
    {
        if (ok) Assert.NotEmpty(FleetOptions.ParseServers(value));
        else Assert.Throws<FleetConfigurationException>(() => FleetOptions.ParseServers(value));
    }
}
