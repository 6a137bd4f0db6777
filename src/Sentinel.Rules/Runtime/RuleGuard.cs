using System.Runtime.ExceptionServices;

namespace Sentinel.Rules.Runtime;

/// <summary>
/// A region in which the watchdog can abort any rule evaluation on this thread, its first included: a rule's
/// first call into the framework that would run for hours (a HashSet of colliding keys) is stopped at its CPU
/// limit, not only once the rule has been seen slow. The pipeline and replay enter it once for their whole run, so
/// its cost (one <see cref="System.Runtime.ControlledExecution"/> region) is not paid per event.
/// </summary>
/// <remarks>
/// <para>An abort must land in the rule, never in the engine or the pipeline around it (a sink half way through
/// a write). The watchdog announces the epoch it will abort, makes the announcement visible to every thread
/// (<see cref="Interlocked.MemoryBarrierProcessWide"/>), then aborts only if that evaluation is still running.
/// An evaluation that ends reads the announcement after clearing its busy flag and, if it is named, waits for the
/// abort where it stands. One of the two always sees the other, so the abort lands either inside the rule or at
/// that wait, right after it.</para>
/// <para>After an abort the guard quarantines the rule, finishes the interrupted event with the rules after it,
/// and runs the body again, which goes on with the next event. It does so on a new thread: the runtime lands no
/// second abort on a thread that took one (measured on .NET 10, Linux: the second one never lands, even in a plain
/// loop), so a thread an abort landed on never runs guarded rules again; guarded work it is given later runs on a
/// new thread each time.</para>
/// </remarks>
internal sealed class RuleGuard
{
    private readonly CancellationTokenSource _source = new();
    private int _aborting;

    /// <summary>An abort landed on this thread: the runtime cannot land another here.</summary>
    [ThreadStatic] private static bool t_aborted;

    /// <summary>Runs <paramref name="body"/> in the region; after an abort, <paramref name="resume"/> then the body again.</summary>
    internal static void Run(Action body, Action<RuleBudget.State> resume)
    {
        if (t_aborted)
        {
            OnNewThread(() => Run(body, resume));
            return;
        }
        var state = RuleBudget.ForThread;
        if (state.Guard is not null)
        {
            body(); // nested: the outer region guards it
            return;
        }
        // A process started by a thread that took an abort is born with the runtime's signal blocked.
        ActivationSignal.EnsureUnblocked();
        var guard = new RuleGuard();
        // No evaluation is running yet: nothing on this thread is the watchdog's to time.
        state.Busy = false;
        state.Guard = guard;
        try
        {
#pragma warning disable SYSLIB0046 // the abort interrupts only rule code (see remarks); what it leaves inconsistent is the rule's, quarantined with it
            System.Runtime.ControlledExecution.Run(body, guard._source.Token);
#pragma warning restore SYSLIB0046
            return;
        }
        catch (OperationCanceledException) when (guard._source.IsCancellationRequested)
        {
            // The abort landed; handled below, outside the catch block.
        }
        finally
        {
            state.Guard = null;
        }
        t_aborted = true;
        ActivationSignal.Unblock(); // for the processes this thread starts later
        state.Busy = false;
        Volatile.Write(ref state.AbortEpoch, -1);
        // Once: if a rule the resume runs is aborted in turn, that abort's resume finishes the event.
        var resumed = false;
        OnNewThread(() => Run(() =>
        {
            if (!resumed)
            {
                resumed = true;
                resume(state);
            }
            body();
        }, resume));
    }

    /// <summary>Runs <paramref name="action"/> on a new thread and waits for it; its exception is rethrown here.</summary>
    private static void OnNewThread(Action action)
    {
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                action();
            }
            catch (Exception ex)
            {
                failure = ExceptionDispatchInfo.Capture(ex);
            }
            finally
            {
                RuleBudget.ReleaseThread(); // a caller that took an abort starts one per guarded run
            }
        }) { IsBackground = true, Name = "sentinel-rules" };
        thread.Start();
        thread.Join();
        failure?.Throw();
    }

    /// <summary>
    /// Called by the watchdog for an evaluation past its CPU limit: aborts it if it is still running, on a thread
    /// of its own (the cancel waits until the abort lands, which must not stall the watchdog).
    /// </summary>
    internal void TryAbort(RuleBudget.State state, long epoch)
    {
        if (Interlocked.Exchange(ref _aborting, 1) != 0) return;
        Volatile.Write(ref state.AbortEpoch, epoch);
        Volatile.Write(ref state.Attention, 1);
        Interlocked.MemoryBarrierProcessWide();
        if (state.Busy && Volatile.Read(ref state.Epoch) == epoch)
        {
            new Thread(static s => ((CancellationTokenSource)s!).Cancel()) { IsBackground = true, Name = "sentinel-rule-abort" }.Start(_source);
            return;
        }
        // It ended in time: release it if it is waiting for the abort.
        Volatile.Write(ref state.AbortEpoch, -1);
        Volatile.Write(ref _aborting, 0);
    }
}
