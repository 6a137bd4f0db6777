using System.Runtime.InteropServices;

namespace Sentinel.Rules.Runtime;

/// <summary>
/// The signal the .NET runtime sends a thread to stop it in managed code (SIGRTMIN): how an abort reaches a thread
/// busy in a loop. A thread that has this signal blocked cannot be aborted there, and neither can a process it starts
/// (a child inherits the starting thread's mask).
/// </summary>
/// <remarks>
/// An abort that lands raises its exception out of the runtime's signal handler, which never returns, so the kernel
/// leaves the signal blocked on that thread (measured: SigBlk bit 33 set after the first abort). The guard unblocks it
/// where it starts and after each abort, so processes the thread starts later are not born unable to abort a rule.
/// </remarks>
internal static unsafe partial class ActivationSignal
{
    private const int SigUnblock = 1;
    private const int SigSetBytes = 128; // glibc's sigset_t

    [ThreadStatic] private static bool t_unblocked;

    /// <summary>Unblocks the signal on this thread, once per thread.</summary>
    internal static void EnsureUnblocked()
    {
        if (t_unblocked) return;
        Unblock();
        t_unblocked = true;
    }

    /// <summary>Unblocks the signal on this thread.</summary>
    internal static void Unblock()
    {
        if (!OperatingSystem.IsLinux()) return;
        var set = stackalloc byte[SigSetBytes];
        new Span<byte>(set, SigSetBytes).Clear();
        var bit = CurrentSigRtMin() - 1;
        set[bit / 8] |= (byte)(1 << (bit % 8));
        _ = pthread_sigmask(SigUnblock, set, null);
    }

    [LibraryImport("libc", EntryPoint = "__libc_current_sigrtmin")]
    private static partial int CurrentSigRtMin();

    [LibraryImport("libc")]
    private static partial int pthread_sigmask(int how, byte* set, byte* oldSet);
}
