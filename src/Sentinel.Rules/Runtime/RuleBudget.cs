using System.ComponentModel;

namespace Sentinel.Rules.Runtime;

/// <summary>
/// The checks the budget rewriter injects into rule code: <see cref="Loop"/> at the top of every loop body,
/// <see cref="Enter"/> at the top of every rule-defined function, <see cref="Length"/> around every array size.
/// The engine arms the budget before each rule runs. Rules cannot call this type (the sandbox rejects it).
/// </summary>
/// <remarks>
/// Exhaustion is sticky: once a budget is spent every later check throws again, so a <c>finally</c> cannot
/// keep a runaway rule alive. State is per thread because each pipeline evaluates on its own thread.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class RuleBudget
{
    /// <summary>One evaluation's budget; one object per thread, so arming it is a single thread-static read.</summary>
    private sealed class State
    {
        public long Steps;
        public nuint StackLimit;
        public long AllocBase;
        public BudgetLimits Limits = BudgetLimits.Default;
    }

    [ThreadStatic] private static State? t_state;

    private static State Current => t_state ??= new State { Steps = -1 };

    /// <summary>Arms the budget for one evaluation on this thread.</summary>
    internal static void Begin(BudgetLimits limits)
    {
        byte marker;
        var state = Current;
        state.Limits = limits;
        state.Steps = limits.MaxSteps;
        state.StackLimit = (nuint)(&marker) - (nuint)limits.MaxStackBytes;
        state.AllocBase = -1;
    }

    /// <summary>Called on every loop iteration.</summary>
    public static void Loop()
    {
        var state = Current;
        if (--state.Steps < 0) throw Exceeded(state, BudgetKind.Steps);
        CheckAllocation(state);
    }

    /// <summary>Called on entry to every function a rule defines (methods, accessors, lambdas, local functions).</summary>
    public static void Enter()
    {
        byte marker;
        var state = Current;
        if (--state.Steps < 0) throw Exceeded(state, BudgetKind.Steps);
        // Recursion is stopped by depth in bytes, long before the thread's stack (and the agent) would overflow.
        if ((nuint)(&marker) < state.StackLimit) throw Exceeded(state, BudgetKind.Stack);
        CheckAllocation(state);
    }

    /// <summary>Wraps every array length a rule computes.</summary>
    public static int Length(int length)
    {
        var state = Current;
        var max = state.Limits.MaxArrayLength;
        if ((uint)length > (uint)max) throw Exceeded(state, BudgetKind.Allocation, $"an array of {length} elements (limit {max})");
        return length;
    }

    public static long Length(long length) => Length((int)Math.Clamp(length, -1, int.MaxValue));

    public static ulong Length(ulong length) => (ulong)Length((int)Math.Min(length, int.MaxValue));

    private static void CheckAllocation(State state)
    {
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
            _ => $"exceeded its allocation budget: {detail}",
        });
    }
}

public enum BudgetKind
{
    Steps,
    Stack,
    Allocation,
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
    /// <summary>Bytes the rule may allocate per evaluation, measured at each loop iteration and call.</summary>
    public long MaxAllocatedBytes { get; init; } = 16 * 1024 * 1024;
    /// <summary>The longest array a rule may create.</summary>
    public int MaxArrayLength { get; init; } = 64 * 1024;

    public static BudgetLimits Default { get; } = new();
}
