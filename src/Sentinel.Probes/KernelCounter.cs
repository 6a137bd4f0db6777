namespace Sentinel.Probes;

/// <summary>
/// The move_pages probes' kernel-side counters, indexed as bpf/sentinel.h's enum snt_counter: userspace's names
/// for the generated <see cref="ProbeHeader.Counter"/>.
/// </summary>
public enum KernelCounter
{
    Submitted = (int)ProbeHeader.Counter.Submitted,
    LostRingBufferFull = (int)ProbeHeader.Counter.Lost,
    ExitWithoutEntry = (int)ProbeHeader.Counter.NoEntry,
    CompatCalls = (int)ProbeHeader.Counter.Compat,
    FoldsOpened = (int)ProbeHeader.Counter.FoldsOpened,
    FoldRecords = (int)ProbeHeader.Counter.FoldRecords,
    FoldedCalls = (int)ProbeHeader.Counter.FoldedCalls,
}
