using Microsoft.Extensions.Logging;
using Sentinel.Bpf;
using Sentinel.Events;

namespace Sentinel.Probes;

/// <summary>
/// The move_pages probes, attached by the first strategy that loads and attaches (README, "How capture works"):
/// kprobes, then syscall tracepoints plus BTF raw tracepoints for compat calls, then raw_syscalls alone. BTF raw
/// tracepoints filtered on the number for every call (tp_btf) are cheaper per move_pages call, but only on request
/// (`--strategy tp_btf`): they cost every other syscall of the machine a number test, and the documented order
/// is what operators and status consumers rely on.
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
        [AttachStrategy.Kprobe, AttachStrategy.Tracepoint, AttachStrategy.RawSyscalls];

    private readonly BpfObject _object;

    private MovePagesProbe(BpfObject obj, AttachStrategy strategy, IReadOnlyList<StrategyAttempt> attempts)
    {
        _object = obj;
        Strategy = strategy;
        Attempts = attempts;
        EventsMapFd = obj.MapFd("events");
        Counters = new MovePagesCounters(obj.MapFd("counters"));
    }

    public AttachStrategy Strategy { get; }
    public IReadOnlyList<StrategyAttempt> Attempts { get; }
    public int EventsMapFd { get; }
    public MovePagesCounters Counters { get; }

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
            catch (BpfException ex) when (ex.Kind is BpfErrorKind.Load or BpfErrorKind.Attach)
            {
                // The kernel refused this strategy's programs: the next may suit it. Anything else (no object, a
                // program or map missing from it) fails every strategy alike, so it is thrown as it is.
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
        if (!Counters.ReadPerCpu(KernelCounter.FoldsOpened, opened) ||
            !Counters.ReadPerCpu(KernelCounter.FoldRecords, flushed))
            return 0;
        var left = 0;
        for (var cpu = 0; cpu < cpus; cpu++)
        {
            if (opened[cpu] == flushed[cpu]) continue;
            try
            {
                if (_object.RunOnCpu(FlushProgram, cpu) != 0) left++;
            }
            catch (BpfException ex) when (ex.Kind == BpfErrorKind.Run)
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
