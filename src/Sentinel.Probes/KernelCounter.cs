namespace Sentinel.Probes;

/// <summary>The move_pages probes' kernel-side counters, indexed as bpf/sentinel.h's enum snt_counter.</summary>
public enum KernelCounter
{
    Submitted = 0,
    LostRingBufferFull = 1,
    ExitWithoutEntry = 2,
    CompatCalls = 3,
    FoldsOpened = 4,
    FoldRecords = 5,
    FoldedCalls = 6,
}
