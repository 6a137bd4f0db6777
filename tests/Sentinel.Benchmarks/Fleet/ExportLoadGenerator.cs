using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Sentinel.Benchmarks.Server;
using Sentinel.Fleet;
using Sentinel.Fleet.Export;
using Sentinel.Server;
using Sentinel.Server.Journal;

namespace Sentinel.Benchmarks.Fleet;

/// <summary>
/// N synthetic hosts, each a real journal (SQLite on disk) with its own host id and NATS connection, exporting
/// through the agent's own <see cref="JournalExporter"/>. Detections are realistic synthetic ones, fed as the
/// pipeline feeds the journal. Used by `fleet-load` (for the gateway's benchmark) and `export-rate`.
/// </summary>
public sealed class ExportLoadGenerator : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sentinel-fleet-load-").FullName;
    private readonly List<SyntheticHost> _hosts = [];

    public sealed record SyntheticHost(string HostId, DetectionJournal Journal, FleetConnection Nats, JournalExporter? Exporter);

    public IReadOnlyList<SyntheticHost> Hosts => _hosts;

    /// <summary>Starts <paramref name="hosts"/> journals; with <paramref name="fleet"/> each exports, without it they only commit (the baseline).</summary>
    public static async Task<ExportLoadGenerator> StartAsync(int hosts, FleetOptions? fleet, ExportOptions? export = null,
        JournalSync sync = JournalSync.Full, string hostPrefix = "synthetic", bool exportNow = true)
    {
        var generator = new ExportLoadGenerator();
        export ??= new ExportOptions();
        for (var i = 0; i < hosts; i++)
        {
            var hostId = $"{hostPrefix}-{i:D3}";
            var journal = new DetectionJournal(new ServerOptions
            {
                JournalPath = Path.Combine(generator._dir, hostId + ".db"), JournalSync = sync, HostId = hostId,
                RetentionAge = null, RetentionBytes = null,
            });
            await journal.StartAsync(CancellationToken.None);
            FleetConnection? nats = null;
            JournalExporter? exporter = null;
            if (fleet is not null)
            {
                nats = new FleetConnection(fleet, export, clientName: hostId);
                exporter = new JournalExporter(journal, nats, export);
                if (exportNow) await exporter.StartAsync(CancellationToken.None);
            }
            generator._hosts.Add(new SyntheticHost(hostId, journal, nats!, exporter));
        }
        return generator;
    }

    /// <summary>Starts the exporters of a generator started with exportNow: false (to time a backlog's export alone).</summary>
    public async Task StartExportAsync()
    {
        foreach (var h in _hosts) await h.Exporter!.StartAsync(CancellationToken.None);
    }

    /// <summary>Hands <paramref name="perHost"/> detections to every host's journal, as the pipeline would.</summary>
    public void Emit(int perHost, long serialBase = 0)
    {
        Parallel.ForEach(_hosts, h =>
        {
            for (var i = 0; i < perHost; i++) h.Journal.OnDetection(DeliveryHarness.Sample(serialBase + i));
        });
    }

    /// <summary>Emits at <paramref name="perSecond"/> per host (spread evenly) until cancelled.</summary>
    public async Task EmitAtRateAsync(double perSecond, CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        long emitted = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var due = (long)(started.Elapsed.TotalSeconds * perSecond);
            if (due > emitted)
            {
                Emit((int)(due - emitted), emitted);
                emitted = due;
            }
            try { await Task.Delay(10, cancellationToken); } catch (OperationCanceledException) { }
        }
    }

    public async Task WaitCommittedAsync(ulong perHost)
    {
        foreach (var h in _hosts)
            while (h.Journal.Range.Last < perHost) await h.Journal.WaitForCommitAsync(h.Journal.Range.Last, CancellationToken.None);
    }

    public async Task WaitExportedAsync(ulong perHost, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        foreach (var h in _hosts) await h.Exporter!.WaitForCursorAsync(perHost, cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _hosts)
        {
            if (h.Exporter is not null) await h.Exporter.DisposeAsync();
            if (h.Nats is not null) await h.Nats.DisposeAsync();
            await h.Journal.DisposeAsync();
        }
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
