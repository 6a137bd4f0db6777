using Sentinel.TestSupport;
using Grpc.Core;
using Grpc.Net.Client;
using Sentinel.V1;

namespace Sentinel.Server.Tests;

/// <summary>The agent is a real process killed with SIGKILL; the journal on disk is all that survives.</summary>
public sealed class CrashRecoveryTests
{
    [Fact]
    public async Task After_sigkill_and_restart_a_client_resumes_with_nothing_lost_or_duplicated()
    {
        using var dir = new TempDir();
        var journal = Path.Combine(dir.Path, "journal.db");
        var seen = new List<Detection>();

        using (var agent = await TestHostProcess.StartAsync(journal))
        {
            Assert.Equal(300ul, await agent.EmitAsync(300));
            using var channel = GrpcChannel.ForAddress(agent.Address);
            var call = new DetectionService.DetectionServiceClient(channel)
                .StreamDetections(new StreamDetectionsRequest { Follow = true });
            seen.AddRange(await call.ResponseStream.ReadAsync(200));

            // Kill while detections are being produced and streamed: whatever the client saw must have been durable.
            await agent.SendAsync("emit 2000 SNT-0002 5");
            seen.AddRange(await call.ResponseStream.ReadAsync(150));
            agent.Kill();
            try { seen.AddRange(await call.ResponseStream.ReadAsync(10_000, timeoutSeconds: 30)); }
            catch (RpcException) { } // the connection died with the agent
        }
        seen.AssertContiguous(1, seen[^1].Sequence);

        using (var agent = await TestHostProcess.StartAsync(journal))
        {
            var lastBeforeCrash = agent.LastAtStart;
            Assert.True(lastBeforeCrash >= seen[^1].Sequence, $"the journal lost detections a client saw ({lastBeforeCrash} < {seen[^1].Sequence})");
            // Sequences continue from the journal.
            Assert.Equal(lastBeforeCrash + 50, await agent.EmitAsync(50, "SNT-0003", 3));

            using var channel = GrpcChannel.ForAddress(agent.Address);
            var client = new DetectionService.DetectionServiceClient(channel);
            var rest = await client.StreamDetections(new StreamDetectionsRequest { AfterSequence = seen[^1].Sequence }).ResponseStream.ReadAsync();
            var all = seen.Concat(rest).ToList();
            all.AssertContiguous(1, lastBeforeCrash + 50);

            // What the client saw before the crash is exactly what the journal holds now.
            var replay = await client.StreamDetections(new StreamDetectionsRequest()).ResponseStream.ReadAsync();
            Assert.Equal(all, replay);
            await agent.QuitAsync();
        }
    }

    [Fact]
    public async Task Every_acknowledged_detection_survives_sigkill()
    {
        using var dir = new TempDir();
        var journal = Path.Combine(dir.Path, "journal.db");
        ulong acknowledged;
        using (var agent = await TestHostProcess.StartAsync(journal))
        {
            await agent.EmitAsync(1000);
            acknowledged = await agent.EmitAsync(1, "SNT-0009", 2);
            agent.Kill();
        }
        using (var agent = await TestHostProcess.StartAsync(journal))
        {
            Assert.Equal(acknowledged, agent.LastAtStart);
            using var channel = GrpcChannel.ForAddress(agent.Address);
            var all = await new DetectionService.DetectionServiceClient(channel)
                .StreamDetections(new StreamDetectionsRequest()).ResponseStream.ReadAsync();
            all.AssertContiguous(1, acknowledged);
            Assert.Equal("SNT-0009", all[^1].RuleId);
        }
    }
}
