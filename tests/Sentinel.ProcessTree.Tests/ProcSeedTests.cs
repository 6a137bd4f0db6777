using System.Diagnostics;
using Sentinel.Events;
using Sentinel.ProcessTree;
using Sentinel.TestSupport;

namespace Sentinel.ProcessTree.Tests;

/// <summary>Seeding from the real /proc (no BPF, no root needed).</summary>
public class ProcSeedTests
{
    [Fact]
    public void A_process_started_before_the_tree_is_found_with_its_identity_and_parent()
    {
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", ["30", "1"]))!;
        try
        {
            WaitForExec(sleeper.Id, "sleep");
            var tree = new ProcessTree(new ProcessTreeOptions { MaxProcLookupsPerSecond = 0 }); // the seed alone must do it
            Assert.True(tree.SeedFromProc() > 1);

            var info = tree.Find(sleeper.Id)!;
            Assert.NotNull(info);
            Assert.Equal("sleep", info.Comm);
            Assert.EndsWith("/sleep", info.ExePath);
            Assert.Equal(["sleep", "30", "1"], info.Args);
            Assert.Equal(Environment.ProcessId, info.ParentPid);
            Assert.Equal(tree.Find(Environment.ProcessId)!.StartTimeNs, info.ParentStartTimeNs);
            Assert.True(info.StartTimeNs > 0);
            Assert.Equal(tree.HostMountNamespace, info.MountNamespace);
            Assert.False(info.IsSetuid);

            // An event from it is enriched, with this test process as its parent.
            var evt = new MovePagesEvent { Pid = sleeper.Id, TimeUnixNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 };
            new ProcessTreeEnricher(tree).Enrich(evt);
            Assert.Equal(info.EntityId, evt.Enrichment.Caller!.EntityId);
            Assert.Equal(Environment.ProcessId, evt.Enrichment.Ancestry[0].Pid);
            Assert.Equal(0, tree.Stats.ProcLookups);
        }
        finally
        {
            sleeper.Kill();
        }
    }

    [Fact]
    public void Setuid_executables_are_flagged()
    {
        const string setuidBinary = "/usr/bin/su"; // Debian's login package: always there, always setuid
        Assert.NotEqual(UnixFileMode.None, File.GetUnixFileMode(setuidBinary) & UnixFileMode.SetUser);
        // su as root asks nothing and waits on stdin for the shell: read its identity while it runs.
        using var p = Process.Start(new ProcessStartInfo(setuidBinary, ["-c", "sleep 30", "root"]) { RedirectStandardInput = true })!;
        try
        {
            WaitForExec(p.Id, Path.GetFileName(setuidBinary));
            var tree = new ProcessTree();
            Assert.NotNull(tree.Resolve(p.Id, 0));
            Assert.True(tree.Find(p.Id)!.IsSetuid);
        }
        finally
        {
            p.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Process.Start returns after fork; wait until the child runs the new image.</summary>
    internal static void WaitForExec(int pid, string comm) => Wait.Until(() =>
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim() == comm;
        }
        catch (IOException)
        {
            return false;
        }
    }, $"pid {pid} to become '{comm}'", 5);
}
