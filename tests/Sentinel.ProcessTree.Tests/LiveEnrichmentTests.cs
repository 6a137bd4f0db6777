using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.ProcessTree;
using Sentinel.Probes;
using Sentinel.TestSupport;

namespace Sentinel.ProcessTree.Tests;

/// <summary>
/// Real move_pages events from the capture probes, enriched by a live tree: the caller, target and flags must
/// be those of the processes that really made and received the call.
/// </summary>
[Collection(nameof(LiveProcessTreeTests))]
public sealed class LiveEnrichmentTests : IDisposable
{
    private static readonly string Helper = MovePagesHelper.PathOf("move_pages64");
    private static readonly string[] Nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"];

    private readonly ProcessTree _tree = new(new ProcessTreeOptions { MaxProcLookupsPerSecond = 0 });
    private readonly ProcessTreeService _service;
    private readonly MovePagesProbe _probe;
    private readonly CaptureSource _capture;
    private readonly Channel<MovePagesEvent> _events = Channel.CreateUnbounded<MovePagesEvent>();

    public LiveEnrichmentTests()
    {
        _service = new ProcessTreeService(_tree);
        _service.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        _probe = MovePagesProbe.Attach(NullLogger.Instance);
        _capture = new CaptureSource(_probe, _events.Writer, new EventPool(), new CaptureOptions(), NullLogger.Instance);
        _capture.Start();
    }

    /// <summary>The first captured event of <paramref name="pid"/>, enriched as the pipeline would.</summary>
    private MovePagesEvent EnrichedEventOf(int pid)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (true)
        {
            var evt = _events.Reader.ReadAsync(cts.Token).AsTask().GetAwaiter().GetResult();
            if (evt.Pid != pid) continue;
            new ProcessTreeEnricher(_tree, _service).Enrich(evt);
            return evt;
        }
    }

    private static (int Pid, string Output) RunHelper(string file, params string[] args)
    {
        var output = ChildProcess.RunChecked(file, args);
        var pidField = output.Split(' ', '\n').First(f => f.StartsWith("pid=", StringComparison.Ordinal));
        return (int.Parse(pidField[4..]), output);
    }

    [LiveFact]
    public void Query_of_another_user_s_process_is_enriched_with_both_identities()
    {
        using var victim = Process.Start(new ProcessStartInfo("setpriv", [.. Nobody, "--", "sleep", "30", "6"]))!;
        try
        {
            LiveProcessTreeTests.WaitFor(_service, () => _tree.Find(victim.Id) is { Comm: "sleep", Uid: 65534 } p ? p : null);
            var (caller, _) = RunHelper(Helper, "--pid", victim.Id.ToString(), "--query");
            var evt = EnrichedEventOf(caller);
            var e = evt.Enrichment;

            Assert.True(e.Enriched);
            Assert.Equal(caller, e.Caller!.Pid);
            Assert.Equal("move_pages64", e.Caller.Comm);
            Assert.Equal(Helper, e.Caller.ExePath);
            Assert.Equal(Environment.ProcessId, e.Ancestry[0].Pid);
            Assert.Equal(victim.Id, e.Target!.Pid);
            Assert.Equal(65534u, e.Target.Uid);
            Assert.Equal(LiveProcessTreeTests.ReadProcStart(victim.Id), BootClock.NormalizeStart(e.Target.StartTimeNs));
            Assert.True(e.IsCrossProcess);
            Assert.True(e.IsCrossUser);
            Assert.False(e.IsCrossContainer);
            Assert.True(e.CallerInHostNamespaces);
        }
        finally
        {
            victim.Kill();
        }
    }

    [LiveFact]
    public void Caller_in_new_namespaces_is_not_in_the_host_s()
    {
        using var unshare = new ChildProcess("unshare", ["--mount", "--pid", "--fork", "--mount-proc", "--", Helper, "--node", "0", "--flags", "2"]);
        Assert.Equal(0, unshare.WaitForExit(TimeSpan.FromSeconds(60)));

        // The helper sees itself as pid 1; find its event by its parent, unshare.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        MovePagesEvent evt;
        do evt = _events.Reader.ReadAsync(cts.Token).AsTask().GetAwaiter().GetResult();
        while (evt.Ppid != unshare.Id);
        new ProcessTreeEnricher(_tree, _service).Enrich(evt);

        var e = evt.Enrichment;
        Assert.Equal("move_pages64", e.Caller!.Comm);
        Assert.False(e.CallerInHostNamespaces);
        Assert.NotEqual(_tree.HostMountNamespace, e.Caller.MountNamespace);
        Assert.Equal("unshare", e.Ancestry[0].Comm);
        Assert.Equal(Environment.ProcessId, e.Ancestry[1].Pid);
        Assert.Same(e.Caller, e.Target);
        Assert.False(e.IsCrossProcess);
    }

    public void Dispose()
    {
        _capture.Dispose();
        _probe.Dispose();
        _service.Dispose();
    }
}
