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
    [ThreadStatic] private static long t_steps;
    [ThreadStatic] private static nuint t_stackLimit;
    [ThreadStatic] private static long t_allocBase;
    [ThreadStatic] private static BudgetLimits? t_limits;

    /// <summary>Arms the budget for one evaluation on this thread.</summary>
    internal static void Begin(BudgetLimits limits)
    {
        byte marker;
        t_limits = limits;
        t_steps = limits.MaxSteps;
        t_stackLimit = (nuint)(&marker) - (nuint)limits.MaxStackBytes;
        t_allocBase = -1;
    }

    /// <summary>Called on every loop iteration.</summary>
    public static void Loop()
    {
        if (--t_steps < 0) throw Exceeded(BudgetKind.Steps);
        CheckAllocation();
    }

    /// <summary>Called on entry to every function a rule defines (methods, accessors, lambdas, local functions).</summary>
    public static void Enter()
    {
        byte marker;
        if (--t_steps < 0) throw Exceeded(BudgetKind.Steps);
        // Recursion is stopped by depth in bytes, long before the thread's stack (and the agent) would overflow.
        if ((nuint)(&marker) < t_stackLimit) { t_steps = -1; throw Exceeded(BudgetKind.Stack); }
        CheckAllocation();
    }

    /// <summary>Wraps every array length a rule computes.</summary>
    public static int Length(int length)
    {
        var max = t_limits?.MaxArrayLength ?? BudgetLimits.Default.MaxArrayLength;
        if ((uint)length > (uint)max) { t_steps = -1; throw Exceeded(BudgetKind.Allocation, $"an array of {length} elements (limit {max})"); }
        return length;
    }

    public static long Length(long length) => Length((int)Math.Clamp(length, -1, int.MaxValue));

    public static ulong Length(ulong length) => (ulong)Length((int)Math.Min(length, int.MaxValue));

    private static void CheckAllocation()
    {
        var now = GC.GetAllocatedBytesForCurrentThread();
        if (t_allocBase < 0) { t_allocBase = now; return; }
        var limit = t_limits?.MaxAllocatedBytes ?? BudgetLimits.Default.MaxAllocatedBytes;
        if (now - t_allocBase > limit) { t_steps = -1; throw Exceeded(BudgetKind.Allocation, $"more than {limit} bytes"); }
    }

    private static RuleBudgetExceededException Exceeded(BudgetKind kind, string? detail = null)
    {
        t_steps = -1;
        return new RuleBudgetExceededException(kind, kind switch
        {
            BudgetKind.Steps => $"exceeded its step budget of {t_limits?.MaxSteps} loop iterations and calls (an endless loop?)",
            BudgetKind.Stack => $"exceeded its stack budget of {t_limits?.MaxStackBytes} bytes (unbounded recursion?)",
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
