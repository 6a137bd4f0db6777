using Sentinel.TestSupport;
using Sentinel.Bpf;

namespace Sentinel.Reliability.Tests;

/// <summary>
/// An agent restarted over and over under load (a supervisor's crash loop, an attacker killing it) must leave
/// nothing behind in the kernel: every program, map and link it held is gone once it has exited.
/// </summary>
[Collection(LiveAgents.Name)]
public sealed class RestartLoopTests
{
    private const int Restarts = 100;

    [LiveFact]
    public void Hundred_restarts_under_load_leak_no_bpf_programs_maps_or_links()
    {
        using var load = new CancellationTokenSource();
        var calls = 0L;
        // The load: ESRCH calls (an unknown pid), so every one is captured and decoded while the agent attaches and dies.
        var generator = new Thread(() =>
        {
            while (!load.IsCancellationRequested)
            {
                unsafe { MovePagesCalls.MovePages(int.MaxValue, 0, null, null, null, 0); }
                Interlocked.Increment(ref calls);
            }
        }) { IsBackground = true };
        generator.Start();

        var everHeld = new BpfObjects.Held([], [], []);
        var random = new Random(1234);
        try
        {
            for (var i = 0; i < Restarts; i++)
            {
                using var agent = SentinelProcess.Start("run", "--no-rules", "--no-server", "--format", "json");
                var mode = i % 4;
                if (mode == 3)
                {
                    // Killed at a random moment of start-up: maybe mid-load, maybe mid-attach.
                    Thread.Sleep(random.Next(0, 400));
                    agent.Signal("KILL");
                    agent.WaitForExit(TimeSpan.FromSeconds(30));
                    continue;
                }
                agent.WaitForStderr("attached move_pages probes", 180);
                var held = BpfObjects.HeldBy(agent.Id);
                Assert.True(held.Programs.Count > 0, $"restart {i}: the attached agent holds no BPF program");
                everHeld.Programs.UnionWith(held.Programs);
                everHeld.Maps.UnionWith(held.Maps);
                everHeld.Links.UnionWith(held.Links);
                agent.Signal(mode == 2 ? "KILL" : "TERM");
                var code = agent.WaitForExit(TimeSpan.FromSeconds(60));
                if (mode != 2) Assert.True(code == 0, $"restart {i}: SIGTERM exit code {code}\n{agent.Stderr}");
            }
        }
        finally
        {
            load.Cancel();
            generator.Join();
        }

        Assert.True(Interlocked.Read(ref calls) > 0);
        Assert.True(everHeld.Programs.Count >= Restarts / 2, $"only {everHeld.Programs.Count} programs observed");
        // The kernel frees an object when its last reference goes, but a program or link detached from a tracepoint
        // is freed after an RCU grace period, so the last agent's may still be listed for a moment: a leak is one
        // still there seconds after its holder died.
        uint[] leakedPrograms = [], leakedMaps = [], leakedLinks = [];
        Wait.Until(() =>
        {
            leakedPrograms = everHeld.Programs.Intersect(BpfObjects.Existing("prog")).ToArray();
            leakedMaps = everHeld.Maps.Intersect(BpfObjects.Existing("map")).ToArray();
            leakedLinks = everHeld.Links.Intersect(BpfObjects.Existing("link")).ToArray();
            return leakedPrograms.Length + leakedMaps.Length + leakedLinks.Length == 0;
        }, "every BPF object the agents held to be freed", 10,
            () => $"programs left behind: {string.Join(",", leakedPrograms)}; maps: {string.Join(",", leakedMaps)}; links: {string.Join(",", leakedLinks)}");
        Assert.Empty(Directory.EnumerateFileSystemEntries("/sys/fs/bpf").Where(p => Path.GetFileName(p).StartsWith("sentinel", StringComparison.Ordinal)));
    }

}
