using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Bpf;

namespace Sentinel.ProcessTree;

/// <summary>
/// The live feeder: loads bpf/proctree.bpf.o, attaches the fork/exec/exit probes, seeds the tree from /proc
/// (after attaching, so no process falls in between), then applies the records every few ms on a dedicated
/// thread and prunes exited processes once a second. As the enricher's <see cref="IProcessTreeFeed"/>, it applies
/// what the kernel has written before each event: a process's fork and exec happen before its move_pages call, so
/// they are always in the tree when that call is enriched.
/// </summary>
public sealed class ProcessTreeService(ProcessTree tree, ILogger<ProcessTreeService>? logger = null)
    : IHostedService, IProcessTreeFeed, IDisposable
{
    public const string ObjectName = "proctree";
    // The probes never wake the reader (a wakeup per fork would cost the forking task), so the feeder polls:
    // every FeederInterval while records flow, backing off to 50 ms when idle. The enricher drains on demand
    // anyway, so the intervals only bound how stale the tree is between events.
    private const int IdlePollMs = 50;
    private static readonly string[] Programs = ["handle_fork", "handle_exec", "handle_exit"];

    private readonly ILogger _logger = logger ?? NullLogger<ProcessTreeService>.Instance;
    private BpfObject? _object;
    private RingBufferReader? _reader;
    private KernelCounters? _lost;
    private Thread? _thread;
    private readonly Lock _consumeLock = new(); // libbpf's ring_buffer is single-consumer
    private volatile bool _stopping;
    private long _lastDrainStartNs;
    private long _records, _malformed;

    public ProcessTree Tree { get; } = tree;

    /// <summary>True once the probes are attached and the seed is done.</summary>
    public bool Attached { get; private set; }

    public long RecordsApplied => Interlocked.Read(ref _records);
    public long RecordsMalformed => Interlocked.Read(ref _malformed);
    public long HandlerErrors => _reader?.HandlerErrors ?? 0;

    /// <summary>Records the kernel dropped because the ring buffer was full (proc_lost[0]).</summary>
    public ulong LostInKernel => _lost?.Read(0u) ?? 0;

    /// <summary>Path of the BPF object; by default the one built next to the assemblies or in bpf/.output.</summary>
    public string? ObjectPath { get; init; }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_thread is not null) return Task.CompletedTask;
        BpfEnvironment.EnsureReady();
        _object = BpfObject.Open(ObjectPath ?? BpfObjectFiles.Path(ObjectName));
        try
        {
            _object.Load();
            foreach (var program in Programs) _object.Attach(program);
            _reader = new RingBufferReader(_object.MapFd("proc_events"), OnRecord);
            _lost = new KernelCounters(_object.MapFd("proc_lost"));
        }
        catch
        {
            Dispose();
            throw;
        }
        var seeded = Tree.SeedFromProc();
        // Records that arrived during the seed are applied now, before anyone enriches.
        Drain();
        Attached = true;
        _logger.LogInformation("process tree attached (sched fork/exec/exit), seeded {Seeded} processes from /proc", seeded);

        _thread = new Thread(Run) { IsBackground = true, Name = "sentinel-proctree" };
        _thread.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        _thread?.Join();
        _thread = null;
        return Task.CompletedTask;
    }

    /// <summary>Applies everything the kernel has written so far; returns how many records that was.</summary>
    public int Drain()
    {
        lock (_consumeLock)
        {
            Volatile.Write(ref _lastDrainStartNs, (long)BootClock.NowNs);
            return _reader?.Consume() ?? 0;
        }
    }

    /// <summary>
    /// A drain that started after <paramref name="atNs"/> already saw every record written before it, which is the
    /// common case while records flow: events reach the pipeline a few ms after their call. Before the probes are
    /// attached there is nothing to apply.
    /// </summary>
    public void ApplyUpTo(ulong atNs)
    {
        if (!Attached) return;
        const long marginNs = 1_000_000; // clock conversions and commit latency
        if (atNs != 0 && Volatile.Read(ref _lastDrainStartNs) >= (long)atNs + marginNs) return;
        Drain();
    }

    private void Run()
    {
        var nextPrune = Environment.TickCount64 + 1000;
        var busy = (int)Tree.Options.FeederInterval.TotalMilliseconds;
        RingBufferLoop.Run(_reader!, new DrainSchedule(busy, IdlePollMs), () => _stopping, Drain, afterDrain: () =>
        {
            if (Environment.TickCount64 < nextPrune) return;
            Tree.Prune(BootClock.NowNs);
            nextPrune = Environment.TickCount64 + 1000;
        }, onWaitError: error => _logger.LogWarning("process tree: waiting on the ring buffer failed: {Error}", error));
    }

    private void OnRecord(ReadOnlySpan<byte> data)
    {
        if (!ProcTreeRecord.TryRead(data, out var record))
        {
            Interlocked.Increment(ref _malformed);
            return;
        }
        Tree.Apply(record);
        Interlocked.Increment(ref _records);
    }

    public void Dispose()
    {
        _stopping = true;
        _thread?.Join();
        _thread = null;
        lock (_consumeLock)
        {
            _reader?.Dispose();
            _reader = null;
        }
        _lost = null;
        _object?.Dispose();
        _object = null;
        Attached = false;
    }
}
