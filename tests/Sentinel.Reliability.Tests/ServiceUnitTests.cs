using System.Diagnostics;
using Sentinel.TestSupport;

namespace Sentinel.Reliability.Tests;

/// <summary>
/// The shipped systemd unit. systemd is not PID 1 on the test machines, so the unit is checked with
/// `systemd-analyze verify`, and its stop contract (KillSignal=SIGTERM within TimeoutStopSec) is exercised on the
/// real agent the way systemd would deliver it.
/// </summary>
[Collection(LiveAgents.Name)]
public sealed class ServiceUnitTests
{
    private static readonly string UnitPath = RepoPaths.BesideTests("sentinel.service");

    private static Dictionary<string, string> ServiceSection() =>
        File.ReadAllLines(UnitPath)
            .SkipWhile(l => l.Trim() != "[Service]").Skip(1).TakeWhile(l => !l.StartsWith('['))
            .Where(l => l.Contains('=') && !l.TrimStart().StartsWith('#'))
            .Select(l => l.Split('=', 2))
            .GroupBy(kv => kv[0].Trim()).ToDictionary(g => g.Key, g => g.Last()[1].Trim());

    [Fact]
    public void Unit_passes_systemd_analyze_verify()
    {
        if (!File.Exists("/usr/bin/systemd-analyze") && !File.Exists("/bin/systemd-analyze"))
        {
            Assert.False(LiveKernel.InCi, "systemd-analyze is missing (Debian package systemd): run `bash .ci/setup`");
            return;
        }
        // The unit names /opt/sentinel/sentinel; verify resolves ExecStart, so point it at the binary this build made.
        var dir = Directory.CreateTempSubdirectory("sentinel-unit-").FullName;
        try
        {
            var unit = File.ReadAllText(UnitPath).Replace("/opt/sentinel/sentinel", SentinelProcess.Binary);
            var path = Path.Combine(dir, "sentinel.service");
            File.WriteAllText(path, unit);
            var (_, stdout, stderr) = ChildProcess.Run("systemd-analyze", ["verify", path]);
            // Complaints about the host's own units (not PID 1, missing dependencies) are not ours: only lines naming our file fail.
            var ours = (stdout + stderr).Split('\n').Where(l => l.Contains("sentinel.service")).ToArray();
            Assert.True(ours.Length == 0, "systemd-analyze verify:\n" + string.Join('\n', ours));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Unit_stops_with_sigterm_and_reloads_with_sighup()
    {
        var service = ServiceSection();
        Assert.Equal("SIGTERM", service["KillSignal"]);
        Assert.Equal("/bin/kill -HUP $MAINPID", service["ExecReload"]);
        Assert.StartsWith("/opt/sentinel/sentinel run ", service["ExecStart"]);
        Assert.True(int.Parse(service["TimeoutStopSec"]) >= 30);
    }

    [LiveFact]
    public void Agent_started_as_the_unit_starts_it_exits_0_on_sigterm_with_its_counters()
    {
        var args = ServiceSection()["ExecStart"].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
        var journal = Path.Combine(Directory.CreateTempSubdirectory("sentinel-unit-").FullName, "journal.db");
        args[args.IndexOf("--journal") + 1] = journal;
        args.AddRange(["--listen", "127.0.0.1:0"]);
        using var agent = SentinelProcess.Start([.. args]);
        agent.WaitForStderr("serving gRPC", 180);
        agent.Signal("TERM");
        Assert.Equal(0, agent.WaitForExit(TimeSpan.FromSeconds(int.Parse(ServiceSection()["TimeoutStopSec"]))));
        Assert.Contains("sentinel: counters:", agent.Stderr);
    }
}
