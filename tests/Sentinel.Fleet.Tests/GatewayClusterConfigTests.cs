using System.Text.RegularExpressions;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.TestSupport;

namespace Sentinel.Fleet.Tests;

/// <summary>The 3-node cluster configuration docs/FLEET.md publishes really starts and really holds an R3 stream.</summary>
public sealed class GatewayClusterConfigTests
{
    [Fact]
    public async Task The_documented_cluster_config_starts_three_nodes_that_hold_an_r3_stream()
    {
        var documented = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "docs", "fleet", "nats-server.conf"));
        var root = Directory.CreateTempSubdirectory("sentinel-natsconf-").FullName;
        var routePorts = Enumerable.Range(0, 3).Select(_ => NatsServers.FreePort()).ToArray();
        var clientPorts = Enumerable.Range(0, 3).Select(_ => NatsServers.FreePort()).ToArray();
        var monitorPorts = Enumerable.Range(0, 3).Select(_ => NatsServers.FreePort()).ToArray();
        var nodes = new List<ChildProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                // The file as documented; only what differs on one machine (addresses, ports, store) is replaced, and
                // each replacement must find its line, so a changed document fails here rather than being skipped.
                var config = documented;
                config = ReplaceOnce(config, @"(?m)^listen: .*$", $"listen: 127.0.0.1:{clientPorts[i]}");
                config = ReplaceOnce(config, @"(?m)^http: .*$", $"http: 127.0.0.1:{monitorPorts[i]}");
                config = ReplaceOnce(config, @"(?m)^(\s+)store_dir: .*$", $"$1store_dir: {Path.Combine(root, $"n{i}")}");
                config = ReplaceOnce(config, @"(?m)^(\s+)listen: 0\.0\.0\.0:6222$", $"$1listen: 127.0.0.1:{routePorts[i]}");
                for (var n = 0; n < 3; n++)
                    config = ReplaceOnce(config, $@"nats-route://nats{n + 1}:6222", $"nats-route://127.0.0.1:{routePorts[n]}");
                var file = Path.Combine(root, $"n{i}.conf");
                await File.WriteAllTextAsync(file, config);
                nodes.Add(new ChildProcess(NatsServers.Binary, ["-c", file, "-l", Path.Combine(root, $"n{i}.log")], $"nats{i + 1}",
                    environment: new Dictionary<string, string?> { ["SENTINEL_NATS_NAME"] = $"nats{i + 1}" }));
            }
            var options = new FleetOptions { Servers = clientPorts.Select(p => $"nats://127.0.0.1:{p}").ToArray() };
            await using var nats = new NatsConnection(options.ToNatsOpts("config-test"));
            var js = new NatsJSContext(nats);
            INatsJSStream? stream = null;
            await Wait.UntilAsync(async () =>
            {
                // A node that refuses the file exits at once: fail with its reason instead of waiting for it.
                foreach (var n in nodes.Where(n => n.HasExited))
                {
                    n.WaitForExit(TimeSpan.FromSeconds(5)); // all of its stderr
                    throw new Xunit.Sdk.XunitException($"nats-server refused the documented config: {n.Stderr}");
                }
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    stream = await js.CreateOrUpdateStreamAsync(new StreamConfig(FleetOptions.DefaultStream, [FleetSubjects.AllDetections]) { NumReplicas = 3 }, attempt.Token);
                    return true;
                }
                catch (OperationCanceledException) { return false; } // not connected yet: the client retries
                catch (NatsJSApiException) { return false; } // no meta leader yet
                catch (NatsException) { return false; }
            }, "the cluster to elect a JetStream leader and create an R3 stream", seconds: 90);
            Assert.Equal(3, stream!.Info.Config.NumReplicas);
            Assert.Equal(2, stream.Info.Cluster!.Replicas!.Count);
            Assert.All(stream.Info.Cluster.Replicas, r => Assert.Matches("^nats[123]$", r.Name));
        }
        finally
        {
            foreach (var n in nodes) n.Dispose();
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    private static string ReplaceOnce(string text, string pattern, string replacement)
    {
        var count = Regex.Matches(text, pattern).Count;
        Assert.True(count == 1, $"docs/fleet/nats-server.conf: expected one match of {pattern}, found {count}");
        return Regex.Replace(text, pattern, replacement);
    }
}
