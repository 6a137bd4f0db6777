using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using Sentinel.Events;
using Sentinel.Rules.Runtime;

namespace Sentinel.Rules;

/// <summary>
/// The rules of one set called from one generated method, in slot order, each through a direct call to its own
/// type's <c>Match</c>: what <see cref="RuleEvaluation.Run"/> does, without a virtual call per rule, and with the
/// per-rule bookkeeping cut to what a rule that does not fire needs.
/// </summary>
/// <remarks>
/// <para>Per rule: its slot, its epoch and the busy flag are stored; as it returns, busy is cleared and one word is
/// read (<see cref="RuleBudget.State.Attention"/>), which a check that armed the budget, or the watchdog, sets.
/// Only then is the evaluation settled as <see cref="RuleEvaluation"/> settles every one (the abort it may wait
/// for, the allocation and time verdicts). Rule k of an event runs as epoch <c>base + 1 + k</c>. Evaluations are
/// counted once per event for the whole set. The thread's budget state comes from the caller, not a
/// thread-static read.</para>
/// <para>The method is a <see cref="DynamicMethod"/>: it can call into the rules' collectible assemblies, and it is
/// collected with the set, so retired rules still unload. It calls the rules that were live when it was built;
/// the engine builds a new one after a quarantine. Each rule's <c>Match</c> keeps its own frame (the compiler marks
/// it not to be inlined), so an exception still names its .csx line.</para>
/// </remarks>
internal sealed class RuleSetDispatch
{
    private delegate void Dispatch(RuleBudget.State budget, MovePagesEvent e, Findings findings, int start, ulong features, long baseEpoch);

    private static readonly MethodInfo EnterMethod = Helper(nameof(Enter));
    private static readonly MethodInfo LeaveMethod = Helper(nameof(Leave));
    private static readonly MethodInfo SkipsMethod = Helper(nameof(Skips));
    private static readonly MethodInfo AsMethod = typeof(Unsafe).GetMethods().Single(m => m is { Name: nameof(Unsafe.As), IsGenericMethodDefinition: true } && m.GetGenericArguments().Length == 1);
    private static readonly FieldInfo RulesField = typeof(RuleSetDispatch).GetField(nameof(_rules), BindingFlags.Instance | BindingFlags.NonPublic)!;

    private readonly RuleSlot[] _slots;
    private readonly Rule?[] _rules;
    private readonly IFindingsPublisher _publisher;
    private readonly BudgetLimits _limits;
    private readonly Dispatch _dispatch;
    private readonly bool _usesFeatures;
    private readonly EvaluationCount _events = new();
    private bool _publishing;

    private RuleSetDispatch(RuleSlot[] slots, IFindingsPublisher publisher, BudgetLimits limits)
    {
        _slots = slots;
        _publisher = publisher;
        _limits = limits;
        _rules = slots.Select(s => s.Live).ToArray();
        QuarantinesAtBuild = RuleSlot.Quarantines;
        _dispatch = Emit(out _usesFeatures);
        foreach (var slot in slots)
            if (slot.Live is not null) slot.JoinCount(_events);
    }

    /// <summary>The quarantine count when this was built: a later quarantine makes the engine build anew.</summary>
    public long QuarantinesAtBuild { get; }

    public static RuleSetDispatch Build(RuleSlot[] slots, IFindingsPublisher publisher, BudgetLimits limits) => new(slots, publisher, limits);

    /// <summary>No longer used: each rule's evaluations move from the shared count to its own.</summary>
    public void Retire()
    {
        foreach (var slot in _slots) slot.LeaveCount(_events);
    }

    /// <summary>Evaluates one event; a rule that throws is charged, and the rules after it still run.</summary>
    public void Run(RuleBudget.State budget, MovePagesEvent evt, Findings findings)
    {
        _events.Count++;
        var features = _usesFeatures ? EventFeatures.Of(evt) : 0;
        if (!ReferenceEquals(budget.Limits, _limits)) budget.Limits = _limits;
        var baseEpoch = budget.Epoch;
        budget.InDispatch = true;
        for (var start = 0; start < _slots.Length;)
        {
            try
            {
                _dispatch(budget, evt, findings, start, features, baseEpoch);
                return;
            }
            catch (Exception ex) when (!_publishing && ex is not ThreadAbortException)
            {
                budget.Busy = false;
                findings.Clear();
                var index = budget.Index;
                _slots[index].OnFailure(ex);
                start = index + 1;
            }
            RuleBudget.AfterAbandon(budget);
        }
    }

    private Dispatch Emit(out bool usesFeatures)
    {
        usesFeatures = false;
        var method = new DynamicMethod("SentinelRuleSet", typeof(void),
            [typeof(RuleSetDispatch), typeof(RuleBudget.State), typeof(MovePagesEvent), typeof(Findings), typeof(int), typeof(ulong), typeof(long)],
            typeof(RuleSetDispatch).Module, skipVisibility: true);
        var il = method.GetILGenerator();
        var end = il.DefineLabel();
        var labels = _rules.Select(_ => il.DefineLabel()).ToArray();
        // A resume after a failed rule enters at the next rule's code.
        il.Emit(OpCodes.Ldarg, 4);
        il.Emit(OpCodes.Switch, labels);
        il.Emit(OpCodes.Br, end);
        for (var i = 0; i < _rules.Length; i++)
        {
            il.MarkLabel(labels[i]);
            if (_rules[i] is not { } rule) continue;
            var type = rule.GetType();
            var match = MatchOverride(type);
            if (_slots[i].Prefilter != RulePrefilter.None)
            {
                usesFeatures = true;
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldc_I4, i);
                il.Emit(OpCodes.Ldarg, 5);
                il.Emit(OpCodes.Call, SkipsMethod);
                il.Emit(OpCodes.Brtrue, i + 1 < labels.Length ? labels[i + 1] : end);
            }
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldarg, 6);
            il.Emit(OpCodes.Ldc_I4, i);
            il.Emit(OpCodes.Call, EnterMethod);
            // The slot's own rule, of the type the call names: no cast is needed, so none is made.
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldfld, RulesField);
            il.Emit(OpCodes.Ldc_I4, i);
            il.Emit(OpCodes.Ldelem_Ref);
            il.Emit(OpCodes.Call, AsMethod.MakeGenericMethod(type));
            il.Emit(OpCodes.Ldarg_2);
            il.Emit(OpCodes.Ldarg_3);
            il.Emit(OpCodes.Call, match);
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Ldarg_2);
            il.Emit(OpCodes.Ldarg_3);
            il.Emit(OpCodes.Ldc_I4, i);
            il.Emit(OpCodes.Call, LeaveMethod);
        }
        il.MarkLabel(end);
        il.Emit(OpCodes.Ret);
        // Closed over this instance: a call without the thunk that shuffles the arguments of an open static delegate.
        return (Dispatch)method.CreateDelegate(typeof(Dispatch), this);
    }

    /// <summary>
    /// The method a virtual call to <see cref="Rule.Match"/> runs on <paramref name="type"/>: the most derived override,
    /// not a method that hides it with <c>new</c> (looked up by name, that one would be found first).
    /// </summary>
    private static MethodInfo MatchOverride(Type type)
    {
        for (var t = type; t is not null; t = t.BaseType)
            foreach (var method in t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.DeclaredOnly))
                if (method.Name == nameof(Rule.Match) && method.GetBaseDefinition() is { DeclaringType: var root } && root == typeof(Rule))
                    return method;
        throw new InvalidOperationException($"{type} does not implement {nameof(Rule)}.{nameof(Rule.Match)}");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Skips(RuleSetDispatch dispatch, int index, ulong features) => dispatch._slots[index].Prefilter.Skips(features);

    /// <summary>Rule <paramref name="index"/> begins: its slot, its epoch (the checks arm on it), then busy for the watchdog.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Enter(RuleBudget.State budget, long baseEpoch, int index)
    {
        budget.Index = index;
        budget.Epoch = baseEpoch + 1 + index;
        budget.Busy = true;
    }

    /// <summary>Rule <paramref name="index"/> returned: not busy, then one word read; its findings, if any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Leave(RuleSetDispatch dispatch, RuleBudget.State budget, MovePagesEvent e, Findings findings, int index)
    {
        budget.Busy = false;
        if (Volatile.Read(ref budget.Attention) != 0) dispatch.Settle(budget, index);
        if (findings.Count != 0) dispatch.Publish(e, findings, index);
    }

    /// <summary>An evaluation a check armed or the watchdog flagged: what <see cref="RuleEvaluation"/> does after each.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Settle(RuleBudget.State budget, int index)
    {
        // The rule's own epoch: the next rule has not begun.
        var epoch = budget.Epoch;
        if (RuleBudget.Settle(budget, epoch)) RuleEvaluation.AfterChecks(_slots[index], _rules[index]!, budget, epoch);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Publish(MovePagesEvent e, Findings findings, int index)
    {
        // Read by the exception filter, which runs before this finally: a sink's failure is not the rule's.
        _publishing = true;
        try
        {
            RuleEvaluation.Publish(_slots[index], e, findings, _publisher);
        }
        finally
        {
            _publishing = false;
        }
    }

    private static MethodInfo Helper(string name) =>
        typeof(RuleSetDispatch).GetMethod(name, BindingFlags.Static | BindingFlags.NonPublic)!;
}

/// <summary>Evaluations of every rule of a dispatch, counted once per event.</summary>
internal sealed class EvaluationCount
{
    public long Count;
}
