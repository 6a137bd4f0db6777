using System.Collections;
using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace Sentinel.Rules.Runtime;

/// <summary>
/// The checks the budget rewriter injects into rule code. The engine arms the budget before each rule runs.
/// Rules cannot call this type (the sandbox rejects it).
/// </summary>
/// <remarks>
/// <para>Memory is bounded two ways. <em>Measured</em>: the thread's allocated bytes are read before every
/// statement that can allocate, at every loop iteration and function entry, and once more after
/// <c>Match</c> returns, so a run of statements that each double a list or a string stops at the first check
/// past the budget. <em>Predicted</em>: what one framework call could allocate that is far more than the data
/// it was given (joining, replacing, concatenating one big string many times over, a wide format, a large
/// array) is charged before the call runs, so one statement cannot take gigabytes between two checks.</para>
/// <para>Exhaustion is sticky: once a budget is spent every later check throws again. State is per thread
/// because each pipeline evaluates on its own thread.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class RuleBudget
{
    /// <summary>The widest alignment or numeric precision a format may ask for.</summary>
    public const int MaxFormatWidth = 1024;

    /// <summary>One evaluation's budget; one object per thread, so arming it is a single thread-static read.</summary>
    internal sealed class State
    {
        /// <summary>Counts evaluations on this thread; the watchdog tells one evaluation from the next by it.</summary>
        public long Epoch;
        /// <summary>Set by the watchdog to the epoch that ran out of time; the thread's next check throws.</summary>
        public long ExpiredEpoch = -1;
        /// <summary>Set by the watchdog to an epoch that used a tenth of its CPU time: the engine then judges it even if no check armed it.</summary>
        public long SlowEpoch = -1;
        /// <summary>Set while the thread evaluates inside <see cref="RuleGuard.Run"/>: the watchdog can abort any evaluation.</summary>
        public volatile RuleGuard? Guard;
        /// <summary>
        /// The epoch the guard is about to abort. An evaluation that ends finds it and waits for the abort, so the abort
        /// lands in the rule or right after it, never in the engine or the pipeline beyond (see <see cref="AwaitAbort"/>).
        /// </summary>
        public long AbortEpoch = -1;
        /// <summary>The slot (in the evaluated set) of the evaluation begun last: where a guard resumes after an abort.</summary>
        public int Index;
        /// <summary>The event under way is evaluated by a set's generated dispatch (<see cref="RuleSetDispatch"/>), not the engine's loop.</summary>
        public bool InDispatch;
        /// <summary>
        /// Non-zero once a check armed the running evaluation or the watchdog flagged it (slow, expired, about to be
        /// aborted): the generated dispatch then looks at the evaluation as it ends, and only then (one load per rule).
        /// </summary>
        public int Attention;
        /// <summary>The epoch the checks last armed the budget for (the first check of an evaluation arms it).</summary>
        public long ArmedEpoch = -1;
        /// <summary>Between <see cref="Begin(State, BudgetLimits)"/> and the end of the evaluation (its CPU time is the rule's).</summary>
        public volatile bool Busy;
        public long Steps;
        public nuint StackLimit;
        public long AllocBase;
        public long Charged;
        public int[] Separators = new int[16];
        public int SeparatorDepth;
        public BudgetLimits Limits = BudgetLimits.Default;
    }

    [ThreadStatic] private static State? t_state;

    /// <summary>This thread's budget state, read once per event by the engine (a thread-static read is not free).</summary>
    internal static State ForThread => t_state ??= RuleWatchdog.Register(new State { Steps = -1 });

    /// <summary>The calling thread evaluates no more (it is about to exit): the watchdog stops timing it.</summary>
    internal static void ReleaseThread()
    {
        if (t_state is not { } state) return;
        RuleWatchdog.Unregister(state);
        t_state = null;
    }

    /// <summary>
    /// The state for a check in rule code: armed for the running evaluation by the first check it reaches. The
    /// engine only counts evaluations (<see cref="Begin(State, BudgetLimits)"/>), so an evaluation that returns
    /// before any check (a rule whose event does not match, the steady state) costs no arming at all.
    /// </summary>
    private static State Current
    {
        get
        {
            var state = ForThread;
            if (state.ArmedEpoch != state.Epoch) Arm(state);
            return state;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Arm(State state)
    {
        // The first check runs in Match or in a function it called: its frame stands for the evaluation's start.
        byte marker;
        state.ArmedEpoch = state.Epoch;
        state.Attention = 1;
        state.Steps = state.Limits.MaxSteps;
        state.StackLimit = (nuint)(&marker) - (nuint)state.Limits.MaxStackBytes;
        state.AllocBase = -1;
        state.Charged = 0;
        state.SeparatorDepth = 0;
    }

    /// <summary>Arms the budget for one evaluation on this thread (loading: constructor, metadata, Configure).</summary>
    internal static void Begin(BudgetLimits limits) => Begin(ForThread, limits);

    /// <summary>
    /// Starts one evaluation: a new epoch (the checks arm on it) and busy for the watchdog. Two stores and a
    /// compare; the limits are stored only when they change (a reference store costs a write barrier).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long Begin(State state, BudgetLimits limits)
    {
        if (!ReferenceEquals(state.Limits, limits)) state.Limits = limits;
        var epoch = ++state.Epoch;
        state.Busy = true;
        return epoch;
    }

    /// <summary>
    /// Ends an evaluation: true when <see cref="End"/> must look at it, because a check armed it (it may have
    /// allocated past its budget in its last statement) or the watchdog flagged it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool Ended(State state, long epoch)
    {
        state.Busy = false;
        return Judged(state, epoch);
    }

    /// <summary>
    /// The generated dispatch's end of an evaluation that needed <see cref="State.Attention"/> (busy already cleared,
    /// as in <see cref="Ended"/>): waits for an abort the guard decided on, and says whether <see cref="End"/> must
    /// judge it. Attention is cleared before the flags are read, so a flag raised meanwhile is seen at the next end.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static bool Settle(State state, long epoch)
    {
        Volatile.Write(ref state.Attention, 0);
        Interlocked.MemoryBarrier();
        return Judged(state, epoch);
    }

    /// <summary>After busy is cleared: waits for an abort the guard decided on, then whether <see cref="End"/> must judge the evaluation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Judged(State state, long epoch)
    {
        if (Volatile.Read(ref state.AbortEpoch) == epoch) AwaitAbort(state, epoch);
        return state.ArmedEpoch == epoch || Volatile.Read(ref state.SlowEpoch) == epoch;
    }

    /// <summary>The evaluation ended by an exception: its time no longer counts.</summary>
    /// <remarks>Called in a catch block, where an abort cannot land: the caller calls <see cref="AfterAbandon"/> after it.</remarks>
    internal static void Abandon()
    {
        if (t_state is { } state) state.Busy = false;
    }

    /// <summary>After the catch block that abandoned an evaluation: waits there for an abort the guard already decided on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void AfterAbandon(State state)
    {
        if (Volatile.Read(ref state.AbortEpoch) == state.Epoch) AwaitAbort(state, state.Epoch);
    }

    /// <summary>
    /// The watchdog chose to abort this evaluation as it ended (see <see cref="RuleGuard.TryAbort"/>): wait here, at a
    /// point the guard knows, until the abort lands or the watchdog, seeing the evaluation over, withdraws it.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AwaitAbort(State state, long epoch)
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref state.AbortEpoch) == epoch) spin.SpinOnce();
    }

    /// <summary>
    /// After an evaluation that <see cref="Ended"/> flagged: the bytes it allocated from its first check on (0 if
    /// no check ran), or throws if they are over the budget (the last statement's allocation) or its time ran out.
    /// </summary>
    internal static long End(State state, long epoch)
    {
        // Out of time inside the last framework call, with no check after it.
        if (Volatile.Read(ref state.ExpiredEpoch) == epoch) throw Exceeded(state, BudgetKind.Time);
        if (state.ArmedEpoch != epoch || state.AllocBase < 0) return 0;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - state.AllocBase;
        if (allocated > state.Limits.MaxAllocatedBytes)
            throw Exceeded(state, BudgetKind.Allocation, $"{allocated} bytes allocated (limit {state.Limits.MaxAllocatedBytes})");
        return allocated;
    }

    /// <summary>The overrun of an evaluation the watchdog aborted inside a framework call.</summary>
    internal static RuleBudgetExceededException Aborted(State state) =>
        Exceeded(state, BudgetKind.Time, "aborted inside a framework call that did not return");

    /// <summary>Before every statement that can allocate.</summary>
    public static void Check()
    {
        var state = Current;
        if (state.Steps < 0) throw Exceeded(state, BudgetKind.Steps);
        CheckAllocation(state);
    }

    /// <summary>Called on every loop iteration.</summary>
    public static void Loop()
    {
        var state = Current;
        if (--state.Steps < 0) throw Exceeded(state, BudgetKind.Steps);
        CheckAllocation(state);
    }

    /// <summary>Called on entry to every function a rule defines (methods, accessors, lambdas, local functions).</summary>
    public static unsafe void Enter()
    {
        byte marker;
        var state = Current;
        if (--state.Steps < 0) throw Exceeded(state, BudgetKind.Steps);
        // Recursion is stopped by depth in bytes, long before the thread's stack (and the agent) would overflow.
        if ((nuint)(&marker) < state.StackLimit) throw Exceeded(state, BudgetKind.Stack);
        CheckAllocation(state);
    }

    /// <summary>Wraps every array length a rule computes (before the array exists).</summary>
    public static int Length(int length) => Array<long>(length, 1);

    public static long Length(long length) => Length((int)Math.Clamp(length, -1, int.MaxValue));

    public static ulong Length(ulong length) => (ulong)Length((int)Math.Min(length, int.MaxValue));

    /// <summary>
    /// Wraps each size of <c>new T[n]</c> (rank 1) or <c>new T[a, b, ...]</c>: the elements and their bytes
    /// stay within the limits whatever <typeparamref name="T"/> is (a rule may declare a struct of kilobytes).
    /// Each dimension of a rank-r array is held to the r-th root, so no product escapes.
    /// </summary>
    public static int Array<T>(int length, int rank)
    {
        var state = Current;
        var size = Math.Max(1, Unsafe.SizeOf<T>());
        var maxElements = Math.Min(state.Limits.MaxArrayLength, state.Limits.MaxAllocatedBytes / size);
        var max = rank == 1 ? maxElements : (long)Math.Floor(Math.Pow(maxElements, 1.0 / rank));
        if ((uint)length > (ulong)max)
            throw Exceeded(state, BudgetKind.Allocation,
                $"an array dimension of {length} elements of {size} bytes (limit {max} for rank {rank})");
        return length;
    }

    public static long Array<T>(long length, int rank) => Array<T>((int)Math.Clamp(length, -1, int.MaxValue), rank);

    public static ulong Array<T>(ulong length, int rank) => (ulong)Array<T>((int)Math.Min(length, int.MaxValue), rank);

    public static uint Array<T>(uint length, int rank) => (uint)Array<T>((int)Math.Min(length, int.MaxValue), rank);

    /// <summary>
    /// Charges what a framework call will copy out of <paramref name="value"/> (a string, array or collection;
    /// strings inside collections count in full) before the call runs.
    /// </summary>
    public static T Copied<T>(T value) => Copied(value, 1);

    /// <summary><see cref="Copied{T}(T)"/> for calls whose output is up to <paramref name="factor"/> times their input.</summary>
    public static T Copied<T>(T value, int factor)
    {
        if (value is null) return value;
        var state = Current;
        Charge(state, SizeOf(value, state.Limits.MaxAllocatedBytes) * factor);
        return value;
    }

    /// <summary>A join's separator, charged once per value joined: pushed here, popped by <see cref="Joined{T}"/>.</summary>
    public static string? Separator(string? separator) => PushSeparator(separator?.Length ?? 0, separator);

    public static char Separator(char separator) => PushSeparator(1, separator);

    /// <summary>A join's separator when the values are listed in the call: charged <paramref name="count"/> times.</summary>
    public static T Separator<T>(T separator, int count)
    {
        var state = Current;
        Charge(state, 2L * count * (separator is string s ? s.Length : 1));
        return separator;
    }

    /// <summary>The values of a join: their size, plus the separator once per value.</summary>
    public static T Joined<T>(T values)
    {
        var state = Current;
        var separator = state.SeparatorDepth > 0 ? state.Separators[--state.SeparatorDepth] : 0;
        Charge(state, SizeOf(values, state.Limits.MaxAllocatedBytes) + 2L * separator * Count(values));
        return values;
    }

    /// <summary><c>s.Replace(old, new)</c>: the result can be |s| / |old| × |new| long, charged before it exists.</summary>
    public static string Replace(string s, string oldValue, string? newValue) =>
        ChargeReplace(s, oldValue, newValue).Replace(oldValue, newValue);

    public static string Replace(string s, string oldValue, string? newValue, StringComparison comparison) =>
        ChargeReplace(s, oldValue, newValue).Replace(oldValue, newValue, comparison);

    public static string? ReplaceOrNull(string? s, string oldValue, string? newValue) =>
        s is null ? null : Replace(s, oldValue, newValue);

    public static string? ReplaceOrNull(string? s, string oldValue, string? newValue, StringComparison comparison) =>
        s is null ? null : Replace(s, oldValue, newValue, comparison);

    /// <summary>A framework method taken as a delegate would escape the charges made at call sites.</summary>
    public static object MethodGroup(string method) =>
        throw Exceeded(Current, BudgetKind.Allocation, $"{method} taken as a delegate cannot be bounded (call it in a lambda instead)");

    /// <summary>A format string: no alignment or precision wider than <see cref="MaxFormatWidth"/>.</summary>
    public static string? Format(string? format)
    {
        if (format is not null && WidestNumber(format) > MaxFormatWidth)
            throw Exceeded(Current, BudgetKind.Allocation, $"a format width over {MaxFormatWidth} in \"{Truncate(format)}\"");
        return format;
    }

    /// <summary>An interpolation hole whose alignment or format is too wide: refused when it runs.</summary>
    public static T Refuse<T>(T value, string what) =>
        throw Exceeded(Current, BudgetKind.Allocation, $"unbounded: {Truncate(what)}");

    /// <summary>True when a literal format (or alignment) asks for more than <see cref="MaxFormatWidth"/> characters.</summary>
    internal static bool IsTooWide(string format) => WidestNumber(format) > MaxFormatWidth;

    private static string ChargeReplace(string s, string oldValue, string? newValue)
    {
        ArgumentNullException.ThrowIfNull(s);
        var state = Current;
        var matches = oldValue is { Length: > 0 } ? s.Length / oldValue.Length : 0;
        Charge(state, 2L * (s.Length + (long)matches * (newValue?.Length ?? 0)));
        return s;
    }

    private static T PushSeparator<T>(int length, T separator)
    {
        var state = Current;
        if (state.SeparatorDepth == state.Separators.Length) System.Array.Resize(ref state.Separators, state.SeparatorDepth * 2);
        state.Separators[state.SeparatorDepth++] = length;
        return separator;
    }

    private static void Charge(State state, long bytes)
    {
        if (state.Steps < 0) throw Exceeded(state, BudgetKind.Steps);
        state.Charged += bytes;
        if (state.Charged > state.Limits.MaxAllocatedBytes)
            throw Exceeded(state, BudgetKind.Allocation,
                $"framework calls would copy {state.Charged} bytes (limit {state.Limits.MaxAllocatedBytes})");
    }

    /// <summary>Bytes a copy of <paramref name="value"/> takes; stops counting once past <paramref name="cap"/>.</summary>
    internal static long SizeOf(object? value, long cap)
    {
        switch (value)
        {
            case null:
                return 0;
            case string s:
                return 2L * s.Length;
            case System.Array array when array.GetType().GetElementType() is { IsPrimitive: true }:
                return Buffer.ByteLength(array);
            case IEnumerable items:
                var count = Count(value);
                // A rule's own iterator is code, bounded where it runs; only materialized collections are walked.
                if (count < 0) return 0;
                var total = 8L * count;
                foreach (var item in items)
                {
                    // Strings are copied in full by a join or concatenation; so are those inside pairs and tuples.
                    total += item switch
                    {
                        string text => 2L * text.Length,
                        ITuple => 2L * (item.ToString()?.Length ?? 0),
                        not null when item.GetType() is { IsGenericType: true } t
                                      && t.GetGenericTypeDefinition() == typeof(KeyValuePair<,>) => 2L * (item.ToString()?.Length ?? 0),
                        _ => 0,
                    };
                    if (total > cap) break;
                }
                return total;
            default:
                return 0;
        }
    }

    /// <summary>The element count of a collection, or -1 for a sequence that has to run to be counted.</summary>
    private static long Count(object? value) => value switch
    {
        null => 0,
        string s => s.Length,
        System.Array a => a.LongLength,
        ICollection c => c.Count,
        _ => CountProperty(value),
    };

    private static readonly ConditionalWeakTable<Type, Func<object, int>?> Counters = new();

    private static long CountProperty(object value)
    {
        var counter = Counters.GetValue(value.GetType(), static type =>
        {
            var property = type.GetInterfaces()
                .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyCollection<>))
                .Select(i => i.GetProperty("Count"))
                .FirstOrDefault();
            return property is null ? null : target => (int)property.GetValue(target)!;
        });
        return counter?.Invoke(value) ?? -1;
    }

    private static int WidestNumber(string format)
    {
        var widest = 0;
        var current = 0;
        foreach (var c in format)
        {
            current = c is >= '0' and <= '9' ? (int)Math.Min(int.MaxValue / 10, current * 10L + (c - '0')) : 0;
            widest = Math.Max(widest, current);
        }
        return widest;
    }

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "...";

    private static void CheckAllocation(State state)
    {
        // The watchdog's verdict: this evaluation has used its CPU time, inside framework calls the steps cannot see.
        if (Volatile.Read(ref state.ExpiredEpoch) == state.Epoch) throw Exceeded(state, BudgetKind.Time);
        var now = GC.GetAllocatedBytesForCurrentThread();
        if (state.AllocBase < 0) { state.AllocBase = now; return; }
        if (now - state.AllocBase > state.Limits.MaxAllocatedBytes)
            throw Exceeded(state, BudgetKind.Allocation, $"more than {state.Limits.MaxAllocatedBytes} bytes");
    }

    private static RuleBudgetExceededException Exceeded(State state, BudgetKind kind, string? detail = null)
    {
        state.Steps = -1; // sticky: every later check throws again
        return new RuleBudgetExceededException(kind, kind switch
        {
            BudgetKind.Steps => $"exceeded its step budget of {state.Limits.MaxSteps} loop iterations and calls (an endless loop?)",
            BudgetKind.Stack => $"exceeded its stack budget of {state.Limits.MaxStackBytes} bytes (unbounded recursion?)",
            BudgetKind.State => $"exceeded its state budget: {detail}",
            BudgetKind.Time => $"exceeded its time budget of {state.Limits.MaxEvaluationCpu.TotalMilliseconds:0} ms of CPU in one evaluation " +
                               (detail is null ? "(super-linear work inside framework calls?)" : $"({detail})"),
            _ => $"exceeded its allocation budget: {detail}",
        });
    }

    internal static RuleBudgetExceededException StateExceeded(BudgetLimits limits, long bytes) =>
        new(BudgetKind.State, $"exceeded its state budget: it keeps more than {bytes} bytes between events (limit {limits.MaxRetainedBytes})");
}

public enum BudgetKind
{
    Steps,
    Stack,
    Allocation,
    State,
    Time,
}

/// <summary>A rule ran out of budget; the engine quarantines it at once.</summary>
public sealed class RuleBudgetExceededException(BudgetKind kind, string message) : Exception(message)
{
    public BudgetKind Kind { get; } = kind;
}

/// <summary>The per-evaluation limits of one rule.</summary>
public sealed record BudgetLimits
{
    /// <summary>Loop iterations plus function calls per evaluation.</summary>
    public long MaxSteps { get; init; } = 1_000_000;
    /// <summary>Stack the rule's own calls may use per evaluation.</summary>
    public int MaxStackBytes { get; init; } = 256 * 1024;
    /// <summary>
    /// Bytes the rule may allocate per evaluation, measured before each allocating statement, loop iteration
    /// and call; also the most that framework calls may be predicted to copy in one evaluation.
    /// </summary>
    public long MaxAllocatedBytes { get; init; } = 16 * 1024 * 1024;
    /// <summary>The longest array a rule may create.</summary>
    public int MaxArrayLength { get; init; } = 64 * 1024;
    /// <summary>Bytes a rule may keep reachable from its instance and statics between events.</summary>
    public long MaxRetainedBytes { get; init; } = 32 * 1024 * 1024;
    /// <summary>
    /// CPU time one evaluation may take, enforced by <see cref="RuleWatchdog"/>: it bounds work done inside
    /// framework calls (colliding hash keys, long scans in a loop), which the step count cannot see. CPU time, not
    /// wall time, so a rule on a starved machine is not blamed for the wait.
    /// </summary>
    public TimeSpan MaxEvaluationCpu { get; init; } = TimeSpan.FromSeconds(1);

    public static BudgetLimits Default { get; } = new();
}
