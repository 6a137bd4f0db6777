namespace Sentinel.Rules.Runtime;

/// <summary>
/// A region in which the watchdog can abort any rule evaluation on this thread, its first included: a rule's
/// first call into the framework that would run for hours (a HashSet of colliding keys) is stopped at its CPU
/// limit, not only once the rule has been seen slow. The pipeline enters it once per batch of events, so its cost
/// (one <see cref="System.Runtime.ControlledExecution"/> region, about 100-150 ns and 32 bytes) is not paid per event.
/// </summary>
/// <remarks>
/// <para>An abort must land in the rule, never in the engine or the pipeline around it (a sink half way through
/// a write). The watchdog announces the epoch it will abort, makes the announcement visible to every thread
/// (<see cref="Interlocked.MemoryBarrierProcessWide"/>), then aborts only if that evaluation is still running.
/// An evaluation that ends reads the announcement after clearing its busy flag and, if it is named, waits for the
/// abort where it stands. One of the two always sees the other, so the abort lands either inside the rule or at
/// that wait, right after it.</para>
/// <para>After an abort the guard quarantines the rule, finishes the interrupted event with the rules after it,
/// and runs the body again, which goes on with the next event.</para>
/// </remarks>
internal sealed class RuleGuard
{
    private CancellationTokenSource _source = new();
    private int _aborting;

    /// <summary>Runs <paramref name="body"/> in the region; after each abort, <paramref name="resume"/> then the body again.</summary>
    internal static void Run(Action body, Action<RuleBudget.State> resume)
    {
        var state = RuleBudget.ForThread;
        if (state.Guard is not null)
        {
            body(); // nested: the outer region guards it
            return;
        }
        var guard = new RuleGuard();
        // No evaluation is running yet: nothing on this thread is the watchdog's to time.
        state.Busy = false;
        state.Guard = guard;
        try
        {
            var next = body;
            while (true)
            {
                try
                {
#pragma warning disable SYSLIB0046 // the abort interrupts only rule code (see remarks); what it leaves inconsistent is the rule's, quarantined with it
                    System.Runtime.ControlledExecution.Run(next, Volatile.Read(ref guard._source).Token);
#pragma warning restore SYSLIB0046
                    return;
                }
                catch (OperationCanceledException) when (Volatile.Read(ref guard._source).IsCancellationRequested)
                {
                    guard.Renew(state);
                    next = () =>
                    {
                        resume(state);
                        body();
                    };
                }
            }
        }
        finally
        {
            state.Guard = null;
        }
    }

    /// <summary>
    /// Called by the watchdog for an evaluation past its CPU limit: aborts it if it is still running, on a thread
    /// of its own (the cancel waits until the abort lands, which must not stall the watchdog).
    /// </summary>
    internal void TryAbort(RuleBudget.State state, long epoch)
    {
        if (Interlocked.Exchange(ref _aborting, 1) != 0) return;
        Volatile.Write(ref state.AbortEpoch, epoch);
        Interlocked.MemoryBarrierProcessWide();
        if (state.Busy && Volatile.Read(ref state.Epoch) == epoch)
        {
            var source = Volatile.Read(ref _source);
            new Thread(static s => ((CancellationTokenSource)s!).Cancel()) { IsBackground = true, Name = "sentinel-rule-abort" }.Start(source);
            return;
        }
        // It ended in time: release it if it is waiting for the abort.
        Volatile.Write(ref state.AbortEpoch, -1);
        Volatile.Write(ref _aborting, 0);
    }

    /// <summary>After an abort landed: a fresh token for the next region, and the thread's state cleared.</summary>
    private void Renew(RuleBudget.State state)
    {
        // The old source stays undisposed: the cancelling thread may still be returning from it.
        Volatile.Write(ref _source, new CancellationTokenSource());
        state.Busy = false;
        Volatile.Write(ref state.AbortEpoch, -1);
        Volatile.Write(ref _aborting, 0);
    }
}
