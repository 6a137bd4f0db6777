using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Fleet.RulePacks;
using Sentinel.Rules;

namespace Sentinel.Fleet.Tests;

/// <summary>
/// The agent side without the kernel: a real rule engine (Roslyn) loading the deployment's directory. Packs are adopted
/// whole or not at all; the last good pack survives a restart; replays and tampering are refused.
/// </summary>
public sealed class RulePackDeploymentTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_pack_is_applied_whole_a_broken_or_older_one_keeps_the_previous_and_a_restart_runs_the_last_good_one()
    {
        var state = Directory.CreateTempSubdirectory("sentinel-deploy").FullName;
        var key = RulePackKeys.Generate();
        var options = new RuleEngineOptions { CacheDirectory = Path.Combine(state, "cache") };
        var files = RulePack.ReadDirectory(RulePackTestRules.WithNewRule());
        var (v1, v1Pack) = RulePack.Create(files, "v1", T0, key);

        var deployment = new RulePackDeployment(Path.Combine(state, "agent"), [key.Public], NullLogger.Instance);
        Assert.Equal("none", deployment.Restore().Version);
        using (var engine = RuleEngine.Load(deployment.ActivePath, options, NullLogger.Instance))
        {
            Assert.Empty(engine.Rules);
            deployment.Attach(engine);

            Assert.Equal(RulePackOutcome.Applied, deployment.Apply(v1Pack));
            Assert.Equal(("v1", v1.ContentHash), (deployment.Version, deployment.Hash));
            Assert.Contains("snt-0901-thirteen-page-query.csx", Directory.EnumerateFiles(deployment.ActivePath).Select(Path.GetFileName));
            Assert.DoesNotContain(engine.Diagnostics, d => d.IsError);
            Assert.Equal(RulePackOutcome.Unchanged, deployment.Apply(v1Pack));

            var broken = files.Append(("snt-0902-broken.csx", Encoding.UTF8.GetBytes(RulePackTestRules.BrokenRule)));
            var brokenPack = RulePack.Create(broken, "v2", T0.AddMinutes(1), key).Pack;
            Assert.Equal(RulePackOutcome.Rejected, deployment.Apply(brokenPack));
            Assert.Equal("v2", deployment.State.RejectedVersion);
            Assert.StartsWith("does not compile on this agent", deployment.State.RejectedReason);
            Assert.Contains("snt-0902-broken.csx:2", deployment.State.RejectedReason);
            // Nothing of v2 runs: the engine's directory is v1's again and no error reached the running set.
            Assert.Equal(("v1", v1.ContentHash), (deployment.Version, deployment.Hash));
            Assert.DoesNotContain("snt-0902-broken.csx", Directory.EnumerateFiles(deployment.ActivePath).Select(Path.GetFileName));
            Assert.DoesNotContain(engine.Diagnostics, d => d.IsError);

            var older = RulePack.Create(files.Take(2), "v0", T0.AddMinutes(-1), key).Pack;
            Assert.Equal(RulePackOutcome.Rejected, deployment.Apply(older));
            Assert.Contains("older than the running pack v1", deployment.State.RejectedReason);
        }

        // A restart (with no broker at all): the last good pack, verified again.
        var restarted = new RulePackDeployment(Path.Combine(state, "agent"), [key.Public], NullLogger.Instance);
        Assert.Equal("v1", restarted.Restore().Version);
        using (var engine = RuleEngine.Load(restarted.ActivePath, options, NullLogger.Instance))
            Assert.Equal(["SNT-0002", "SNT-0901"], engine.Rules.Select(r => r.Id).Order());

        // The same restart with the key rotated out: the pack on disk no longer runs.
        var rotated = new RulePackDeployment(Path.Combine(state, "agent"), [RulePackKeys.Generate().Public], NullLogger.Instance);
        var refused = rotated.Restore();
        Assert.Equal("none", refused.Version);
        Assert.Contains("the last good pack on disk was refused: bad signature", refused.RejectedReason);
        Assert.Empty(Directory.EnumerateFiles(rotated.ActivePath));
    }
}
