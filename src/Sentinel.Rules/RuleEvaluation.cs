using System.Diagnostics;
using System.Runtime.CompilerServices;
using Sentinel.Events;
using Sentinel.Rules.Runtime;

namespace Sentinel.Rules;

/// <summary>Receives the findings of one rule on one event; <see cref="Findings"/> is cleared after it returns.</summary>
internal interface IFindingsPublisher
{
    void Publish(RuleSlot slot, MovePagesEvent evt, Findings findings);
}

/// <summary>
/// Runs a set of rules on one event through a loop of virtual calls: the sampled events that time one rule,
/// the rest of an event an abort interrupted, and fixture runs. The agent's other events go through the set's
/// generated method (<see cref="RuleSetDispatch"/>), which settles each evaluation the same way. One try/catch
/// around the loop rather than one per rule; a failing rule is charged and the loop resumes with the next one.
/// </summary>
internal static class RuleEvaluation
{
    public static void Run(RuleSlot[] slots, MovePagesEvent evt, Findings findings, IFindingsPublisher publisher, int start = 0,
        bool countEvaluations = true)
    {
        var budget = RuleBudget.ForThread;
        budget.InDispatch = false;
        var features = EventFeatures.Of(evt);
        var i = start;
        var publishing = false;
        while (i < slots.Length)
        {
            try
            {
                for (; i < slots.Length; i++)
                {
                    var slot = slots[i];
                    if (slot.Live is not { } rule) continue;
                    if (countEvaluations) slot.CountEvaluation();
                    if (slot.Prefilter.Skips(features)) continue;
                    budget.Index = i;
                    Match(slot, rule, evt, findings, budget);
                    if (findings.Count == 0) continue;
                    publishing = true;
                    Publish(slot, evt, findings, publisher);
                    publishing = false;
                }
            }
            catch (Exception ex) when (!publishing && ex is not ThreadAbortException)
            {
                RuleBudget.Abandon();
                findings.Clear();
                slots[i++].OnFailure(ex);
            }
            RuleBudget.AfterAbandon(budget);
        }
    }

    /// <summary>
    /// <see cref="Run"/> with one rule timed, for the sampled latency figures: the slot at index <c>timed</c>, which
    /// the caller turns so every rule is timed in turn (a clock read costs more than most rules). <c>evaluations</c>
    /// is what this event stands for (the sampling interval): it counts toward the periodic walk of each rule's
    /// kept state, which evaluations that armed no budget do not reach.
    /// </summary>
    public static void RunTimed(RuleSlot[] slots, MovePagesEvent evt, Findings findings, IFindingsPublisher publisher,
        Action<string, TimeSpan>? observer, int evaluations, int timed)
    {
        var budget = RuleBudget.ForThread;
        budget.InDispatch = false;
        for (var i = 0; i < slots.Length; i++)
        {
            var slot = slots[i];
            if (slot.Live is not { } rule) continue;
            var start = i == timed ? Stopwatch.GetTimestamp() : 0;
            var failed = false;
            slot.CountEvaluation();
            budget.Index = i;
            try
            {
                Match(slot, rule, evt, findings, budget);
                if (slot.IsInstrumented) slot.AfterEvaluation(rule, 0, evaluations);
            }
            catch (Exception ex) when (ex is not ThreadAbortException)
            {
                RuleBudget.Abandon();
                findings.Clear();
                slot.OnFailure(ex);
                failed = true;
            }
            if (failed)
            {
                RuleBudget.AfterAbandon(budget);
                continue;
            }
            if (i == timed)
            {
                var elapsed = Stopwatch.GetTimestamp() - start;
                slot.RecordLatency(elapsed);
                observer?.Invoke(slot.Info.Id, Stopwatch.GetElapsedTime(start, start + elapsed));
            }
            if (findings.Count != 0) Publish(slot, evt, findings, publisher);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Match(RuleSlot slot, Rule rule, MovePagesEvent evt, Findings findings, RuleBudget.State budget)
    {
        if (!slot.IsInstrumented)
        {
            rule.Match(evt, findings);
            return;
        }
        var epoch = RuleBudget.Begin(budget, slot.Limits);
        rule.Match(evt, findings);
        if (RuleBudget.Ended(budget, epoch)) AfterChecks(slot, rule, budget, epoch);
    }

    /// <summary>
    /// An evaluation that reached a check, or that the watchdog flagged: the last statement's allocation, which no
    /// later check saw; the time verdict; and, now and then, the state the rule keeps.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void AfterChecks(RuleSlot slot, Rule rule, RuleBudget.State budget, long epoch)
    {
        slot.AfterEvaluation(rule, RuleBudget.End(budget, epoch), 1);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void Publish(RuleSlot slot, MovePagesEvent evt, Findings findings, IFindingsPublisher publisher)
    {
        try
        {
            slot.CountDetections(findings.Count);
            publisher.Publish(slot, evt, findings);
        }
        finally
        {
            findings.Clear();
        }
    }
}
