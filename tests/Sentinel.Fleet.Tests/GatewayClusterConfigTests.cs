using System.Diagnostics;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.TestSupport;

namespace Sentinel.Fleet.Tests;

/// <summary>The 3-node cluster configuration docs/FLEET.md publishes really starts and really holds an R3 stream.</summary>
public sealed class GatewayClusterConfigTests
{
    [Fact(Skip = "Hangs when run with the whole Fleet suite (passes alone in 5 s); quarantined until the hang is found, see the issue 8 note")]
    public async Task The_documented_cluster_config_starts_three_nodes_that_hold_an_r3_stream()
    {
        var config = Path.Combine(RepoPaths.Root, "docs", "fleet", "nats-server.conf");
        var root = Directory.CreateTempSubdirectory("sentinel-natsconf-").FullName;
        var routePorts = Enumerable.Range(0, 3).Select(_ => NatsServers.FreePort()).ToArray();
        var clientPorts = Enumerable.Range(0, 3).Select(_ => NatsServers.FreePort()).ToArray();
        var monitorPorts = Enumerable.Range(0, 3).Select(_ => NatsServers.FreePort()).ToArray();
        var nodes = new List<Process>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                // The file as documented; only what differs on one machine (addresses, ports, store) is overridden.
                var info = new ProcessStartInfo(NatsServers.Binary)
                {
                    ArgumentList =
                    {
                        "-c", config, "-a", "127.0.0.1", "-p", clientPorts[i].ToString(), "-m", monitorPorts[i].ToString(),
                        "-sd", Path.Combine(root, $"n{i}"), "--cluster", $"nats://127.0.0.1:{routePorts[i]}",
                        "--routes", string.Join(",", routePorts.Select(p => $"nats://127.0.0.1:{p}")), "-l", Path.Combine(root, $"n{i}.log"),
                    },
                    Environment = { ["SENTINEL_NATS_NAME"] = $"nats{i + 1}" },
                    RedirectStandardOutput = true, RedirectStandardError = true,
                };
                nodes.Add(Process.Start(info)!);
            }
            var options = new FleetOptions { Servers = clientPorts.Select(p => $"nats://127.0.0.1:{p}").ToArray() };
            await using var nats = new NatsConnection(options.ToNatsOpts("config-test"));
            var js = new NatsJSContext(nats);
            INatsJSStream? stream = null;
            await Wait.UntilAsync(async () =>
            {
                try
                {
                    stream = await js.CreateOrUpdateStreamAsync(new StreamConfig(FleetOptions.DefaultStream, [FleetSubjects.AllDetections]) { NumReplicas = 3 });
                    return true;
                }
                catch (NatsJSApiException) { return false; } // no meta leader yet
                catch (NatsException) { return false; }
            }, "the cluster to elect a JetStream leader and create an R3 stream", seconds: 90);
            Assert.Equal(3, stream!.Info.Config.NumReplicas);
            Assert.Equal(2, stream.Info.Cluster!.Replicas!.Count);
            Assert.All(stream.Info.Cluster.Replicas, r => Assert.Matches("^nats[123]$", r.Name));
        }
        finally
        {
            foreach (var n in nodes) { try { n.Kill(); n.WaitForExit(); } catch (InvalidOperationException) { } n.Dispose(); }
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }
}
