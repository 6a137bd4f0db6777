using System.Text.Json;
using Grpc.Net.Client;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.Fleet.Export;
using Sentinel.Fleet.RulePacks;
using Sentinel.TestSupport;
using Sentinel.V1;

namespace Sentinel.Fleet.Tests;

/// <summary>
/// Rule rollout live: a real nats-server, two real `sentinel run --rules nats` agents with their probes attached, real
/// move_pages calls. A pushed pack is reported by both and its new rule fires on both; unsigned, foreign-signed, oversize
/// and uncompilable packs are refused with the reason while the previous pack keeps firing; a restart with the broker
/// down runs the last good pack.
/// </summary>
[Collection("live")]
public sealed class RulePackRolloutTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [LiveFact]
    public async Task A_pushed_pack_reaches_two_agents_its_new_rule_fires_live_and_bad_packs_are_refused_while_the_previous_keeps_running()
    {
        using var servers = await NatsServers.StartSingleAsync();
        var root = Directory.CreateTempSubdirectory("sentinel-rollout").FullName;
        var key = RulePackKeys.Generate();
        var (privateKey, publicKey) = RulePackKeys.WritePair(key, Path.Combine(root, "k"));
        Push(RulePackTestRules.BaseDirectory(), "v1", servers, privateKey);

        var agents = new[] { new Agent(root, "a", servers, publicKey), new Agent(root, "b", servers, publicKey) };
        try
        {
            foreach (var agent in agents) await agent.WaitForStatusAsync(s => s.Version == "v1", "pack v1");

            var v2 = RulePackTestRules.WithNewRule();
            Push(v2, "v2", servers, privateKey);
            var v2Hash = RulePack.Build(RulePack.ReadDirectory(v2), "v2", DateTimeOffset.UnixEpoch, "").Manifest.ContentHash;
            foreach (var agent in agents) await agent.WaitForStatusAsync(s => s.Version == "v2" && s.Hash == v2Hash, "pack v2 with its hash");
            AssertNewRuleFires(agents);

            await using var nats = new NatsConnection(new NatsOpts { Url = servers.Urls });
            // What each agent runs reaches the fleet: its heartbeat names the pack's version and hash.
            var js = new NatsJSContext(nats);
            foreach (var agent in agents)
                await TestSupport.Wait.UntilAsync(async () =>
                {
                    try
                    {
                        var beats = await js.GetStreamAsync(StreamProvisioner.HeartbeatStream);
                        var msg = await beats.GetAsync(new StreamMsgGetRequest { LastBySubj = FleetSubjects.Heartbeat(agent.HostId) });
                        var hb = Heartbeat.Parser.ParseFrom(msg.Message.Data.Span);
                        return hb.RulePackVersion == "v2" && hb.RulePackHash == v2Hash;
                    }
                    catch (NatsJSApiException) { return false; } // no heartbeat (or stream) yet
                }, $"agent {agent.Name}'s heartbeat to report pack v2", seconds: 60);
            var store = await RulePackStore.OpenAsync(nats, create: false);
            var files = RulePack.ReadDirectory(v2);

            var (unsigned, archive) = RulePack.Build(files, "v3", DateTimeOffset.UtcNow, key.KeyId);
            await store.PutAsync(RulePackStore.Latest, RulePack.Envelope(unsigned.ToJson(), [], archive), "v3", unsigned.ContentHash);
            await ExpectRefusal(agents, "v3", "unsigned pack: refused");

            var stranger = RulePackKeys.Generate();
            var (foreign, foreignPack) = RulePack.Create(files, "v4", DateTimeOffset.UtcNow, stranger);
            await store.PutAsync(RulePackStore.Latest, foreignPack, "v4", foreign.ContentHash);
            await ExpectRefusal(agents, "v4", $"signed by key {stranger.KeyId}, which is not trusted");

            await store.PutAsync(RulePackStore.Latest, new byte[RulePack.DefaultMaxBytes + 1], "v5", "");
            await ExpectRefusal(agents, "v5", $"too large: {RulePack.DefaultMaxBytes + 1} bytes");

            // Signed by the trusted key but never linted: it fails to compile on the agents, which keep v2 whole.
            var broken = files.Append(("snt-0902-broken.csx", System.Text.Encoding.UTF8.GetBytes(RulePackTestRules.BrokenRule)));
            var (brokenManifest, brokenPack) = RulePack.Create(broken, "v6", DateTimeOffset.UtcNow, key);
            await store.PublishAsync(brokenPack, brokenManifest);
            await ExpectRefusal(agents, "v6", "does not compile on this agent");
            AssertNewRuleFires(agents);

            // The broker gone, an agent restarts: it runs the last good pack from its disk.
            agents[1].Stop();
            servers.Nodes[0].Stop();
            agents[1] = new Agent(root, "b", servers, publicKey);
            agents[1].Process.WaitForStderr("running rule pack v2");
            await agents[1].WaitForStatusAsync(s => s.Version == "v2" && s.Hash == v2Hash, "pack v2 after a restart with the broker down");
            AssertNewRuleFires([agents[1]]);
        }
        finally
        {
            foreach (var agent in agents) agent.Dispose();
        }
    }

    private static void Push(string dir, string version, NatsServers servers, string privateKey)
    {
        var (code, stdout, stderr) = SentinelProcess.Run("rules", "push", dir, "--nats", servers.Urls, "--key", privateKey, "--version", version);
        Assert.True(code == 0, $"push {version} exited {code}:\n{stdout}\n{stderr}");
    }

    private static async Task ExpectRefusal(Agent[] agents, string version, string reason)
    {
        foreach (var agent in agents)
        {
            var status = await agent.WaitForStatusAsync(s => s.RejectedVersion == version, $"pack {version} refused");
            Assert.Contains(reason, status.RejectedReason);
            Assert.Equal("v2", status.Version);
            agent.Process.WaitForStderr($"rule pack {version} refused: ");
        }
    }

    /// <summary>A real 13-page query-mode move_pages call: SNT-0901, only in the pushed pack, fires on every agent.</summary>
    private static void AssertNewRuleFires(IEnumerable<Agent> agents)
    {
        var call = MovePagesHelper.Run("move_pages64", $"--query --pages {RulePackTestRules.NewRulePages}").Single();
        foreach (var agent in agents)
            agent.Process.WaitUntil(() => agent.Process.StdoutLines.Any(line =>
            {
                var d = JsonDocument.Parse(line).RootElement;
                return d.GetProperty("ruleId").GetString() == RulePackTestRules.NewRuleId &&
                       d.GetProperty("event").GetProperty("context").GetProperty("pid").GetInt32() == call.Pid;
            }), $"{RulePackTestRules.NewRuleId} for pid {call.Pid} on agent {agent.Name}", (int)Wait.TotalSeconds);
    }

    private sealed class Agent : IDisposable
    {
        private readonly GrpcChannel _channel;

        public Agent(string root, string name, NatsServers servers, string publicKey)
        {
            Name = name;
            var listen = $"127.0.0.1:{NatsServers.FreePort()}";
            Directory.CreateDirectory(Path.Combine(root, name));
            Process = SentinelProcess.Start("run", "--rules", "nats", "--rules-pubkey", publicKey, "--nats", servers.Urls, "--host-id", HostId,
                "--journal", Path.Combine(root, name, "journal.db"), "--listen", listen, "--format", "json");
            Process.WaitForStderr("serving gRPC", (int)Wait.TotalSeconds);
            _channel = GrpcChannel.ForAddress($"http://{listen}");
        }

        public string Name { get; }
        public string HostId => "pack-" + Name;
        public SentinelProcess Process { get; }

        /// <summary>Polls GetStatus until the rule-pack status satisfies <paramref name="condition"/>, or fails with the last one.</summary>
        public async Task<RulePackStatus> WaitForStatusAsync(Func<RulePackStatus, bool> condition, string what)
        {
            var client = new DetectionService.DetectionServiceClient(_channel);
            return (await TestSupport.Wait.ForAsync(async () => (await client.GetStatusAsync(new GetStatusRequest())).RulePack,
                s => s is not null && condition(s), $"agent {Name}: {what}", (int)Wait.TotalSeconds,
                last => $"last rule_pack status: {last}\nstderr:\n{Process.Stderr}"))!;
        }

        public void Stop()
        {
            Process.Signal("TERM");
            Assert.Equal(0, Process.WaitForExit(TimeSpan.FromSeconds(60)));
        }

        public void Dispose()
        {
            _channel.Dispose();
            Process.Dispose();
        }
    }
}
