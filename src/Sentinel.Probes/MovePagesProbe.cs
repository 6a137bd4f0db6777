using Microsoft.Extensions.Logging;
using Sentinel.Events;

namespace Sentinel.Probes;

/// <summary>Why a strategy did or did not attach; reported by `run`, `status` and GetStatus.</summary>
public sealed record StrategyAttempt(AttachStrategy Strategy, bool Attached, string Detail);

/// <summary>
/// The move_pages probes, attached by the first strategy that loads and attaches (README, "How capture works"):
/// kprobes, then BTF raw tracepoints filtered on the number, then syscall tracepoints plus BTF raw tracepoints
/// for compat calls, then raw_syscalls alone.
/// </summary>
public sealed class MovePagesProbe : IDisposable
{
    public const string ObjectName = "move_pages";

    private static readonly Dictionary<AttachStrategy, string[]> Programs = new()
    {
        [AttachStrategy.Kprobe] = ["kprobe_enter", "kprobe_exit", "kprobe_enter_compat", "kprobe_exit_compat"],
        [AttachStrategy.BtfRawTracepoint] = ["btf_enter", "btf_exit"],
        [AttachStrategy.Tracepoint] = ["tracepoint_enter", "tracepoint_exit", "compat_enter", "compat_exit"],
        [AttachStrategy.RawSyscalls] = ["raw_enter_all", "raw_exit_all"],
    };

    /// <summary>Loaded with every strategy and never attached: the reader runs it to flush a CPU's folds.</summary>
    private const string FlushProgram = "flush_folds";

    /// <summary>move_pages.bpf.c's const volatile globals, in order.</summary>
    private static readonly string[] ReadOnlyLayout = ["only_tgid"];

    public static IReadOnlyList<AttachStrategy> DefaultOrder { get; } =
        [AttachStrategy.Kprobe, AttachStrategy.BtfRawTracepoint, AttachStrategy.Tracepoint, AttachStrategy.RawSyscalls];

    private readonly BpfObject _object;

    private MovePagesProbe(BpfObject obj, AttachStrategy strategy, IReadOnlyList<StrategyAttempt> attempts)
    {
        _object = obj;
        Strategy = strategy;
        Attempts = attempts;
        EventsMapFd = obj.MapFd("events");
        Counters = new KernelCounters(obj.MapFd("counters"));
    }

    public AttachStrategy Strategy { get; }
    public IReadOnlyList<StrategyAttempt> Attempts { get; }
    public int EventsMapFd { get; }
    public KernelCounters Counters { get; }

    /// <summary>Tries each strategy in <paramref name="order"/>; throws with every failure's reason if none attaches.</summary>
    /// <param name="onlyProcess">Capture only this process id (exact counts on a shared machine); null for all.</param>
    public static MovePagesProbe Attach(ILogger logger, IReadOnlyList<AttachStrategy>? order = null, string? objectPath = null,
        int? onlyProcess = null)
    {
        objectPath ??= BpfObjectFiles.Path(ObjectName);
        var attempts = new List<StrategyAttempt>();
        foreach (var strategy in order ?? DefaultOrder)
        {
            BpfObject? obj = null;
            try
            {
                obj = BpfObject.Open(objectPath);
                obj.SelectPrograms([.. Programs[strategy], FlushProgram]);
                if (onlyProcess is { } pid) obj.SetReadOnly(ReadOnlyLayout, "only_tgid", (uint)pid);
                obj.Load();
                foreach (var program in Programs[strategy])
                    obj.Attach(program);
                attempts.Add(new StrategyAttempt(strategy, true, "attached"));
                logger.LogInformation("move_pages probes attached with the {Strategy} strategy", strategy);
                return new MovePagesProbe(obj, strategy, attempts);
            }
            catch (BpfException ex)
            {
                obj?.Dispose();
                attempts.Add(new StrategyAttempt(strategy, false, ex.Message));
                logger.LogInformation("{Strategy} strategy failed: {Reason}", strategy, ex.Message);
            }
        }
        throw new ProbeAttachException(attempts);
    }

    public static string Describe(IEnumerable<StrategyAttempt> attempts) =>
        string.Join("; ", attempts.Select(a => $"{StrategyName(a.Strategy)}: {a.Detail}"));

    public static string StrategyName(AttachStrategy strategy) => strategy switch
    {
        AttachStrategy.Kprobe => "kprobe",
        AttachStrategy.BtfRawTracepoint => "tp_btf",
        AttachStrategy.Tracepoint => "tracepoint",
        AttachStrategy.RawSyscalls => "raw_syscalls",
        _ => "unknown",
    };

    public static AttachStrategy ParseStrategy(string name) => name switch
    {
        "kprobe" => AttachStrategy.Kprobe,
        "tp_btf" or "btf" => AttachStrategy.BtfRawTracepoint,
        "tracepoint" => AttachStrategy.Tracepoint,
        "raw_syscalls" or "raw" => AttachStrategy.RawSyscalls,
        _ => throw new ArgumentException($"unknown strategy '{name}' (expected auto, kprobe, tp_btf, tracepoint or raw_syscalls)"),
    };

    /// <summary>
    /// Writes the folds waiting on each CPU to the ring (those that fit). A CPU's folds live in its per-CPU
    /// table, so the flush runs on that CPU; only CPUs with open folds are visited. Returns the CPUs still holding
    /// folds (the table was busy or the ring full): the caller tries again later.
    /// </summary>
    public int FlushFolds()
    {
        var cpus = Counters.Cpus;
        Span<ulong> opened = stackalloc ulong[cpus], flushed = stackalloc ulong[cpus];
        if (!Counters.ReadPerCpu((uint)KernelCounter.FoldsOpened, opened) ||
            !Counters.ReadPerCpu((uint)KernelCounter.FoldRecords, flushed))
            return 0;
        var left = 0;
        for (var cpu = 0; cpu < cpus; cpu++)
        {
            if (opened[cpu] == flushed[cpu]) continue;
            try
            {
                if (_object.RunOnCpu(FlushProgram, cpu) != 0) left++;
            }
            catch (BpfException)
            {
                left++; // an offline CPU: its folds wait for it to come back
            }
        }
        return left;
    }

    /// <summary>Stops capturing; the ring buffer and the counters stay readable for the final drain.</summary>
    public void Detach() => _object.Detach();

    public void Dispose() => _object.Dispose();
}

public sealed class ProbeAttachException(IReadOnlyList<StrategyAttempt> attempts)
    : Exception("no probe strategy attached: " + MovePagesProbe.Describe(attempts))
{
    public IReadOnlyList<StrategyAttempt> Attempts { get; } = attempts;
}

/// <summary>Sums the per-CPU counters of a BPF_MAP_TYPE_PERCPU_ARRAY of u64 (any probe's counter map).</summary>
public sealed unsafe class KernelCounters(int mapFd)
{
    public int Cpus { get; } = Math.Max(1, Native.Libbpf.libbpf_num_possible_cpus());

    public ulong Read(KernelCounter counter) => Read((uint)counter);

    /// <summary>The counter at <paramref name="key"/>, summed over all CPUs; 0 if the key is absent.</summary>
    public ulong Read(uint key)
    {
        var values = stackalloc ulong[Cpus];
        if (!ReadPerCpu(key, new Span<ulong>(values, Cpus))) return 0;
        ulong sum = 0;
        for (var i = 0; i < Cpus; i++) sum += values[i];
        return sum;
    }

    /// <summary>The counter at <paramref name="key"/> on each CPU (<paramref name="values"/> holds <see cref="Cpus"/>).</summary>
    public bool ReadPerCpu(uint key, Span<ulong> values)
    {
        if (values.Length < Cpus) throw new ArgumentException($"needs room for {Cpus} CPUs", nameof(values));
        fixed (ulong* v = values)
            return Native.Libbpf.bpf_map_lookup_elem(mapFd, &key, v) == 0;
    }

    public KernelCounterSnapshot Snapshot() => new(
        Read(KernelCounter.Submitted), Read(KernelCounter.LostRingBufferFull),
        Read(KernelCounter.ExitWithoutEntry), Read(KernelCounter.CompatCalls),
        Read(KernelCounter.FoldRecords), Read(KernelCounter.FoldedCalls));
}

/// <summary>
/// The kernel's view. Every call that exited is a single record, inside a fold, lost, or (until flushed) in an
/// open fold: calls = (Submitted − FoldRecords) + FoldedCalls + Lost.
/// </summary>
public readonly record struct KernelCounterSnapshot(
    ulong Submitted, ulong Lost, ulong ExitWithoutEntry, ulong Compat, ulong FoldRecords = 0, ulong FoldedCalls = 0)
{
    /// <summary>Calls delivered as records of their own.</summary>
    public ulong SingleRecords => Submitted - FoldRecords;
}
