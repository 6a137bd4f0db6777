namespace Sentinel.Probes;

/// <summary>
/// The kernel's view. Every call that exited is a single record, inside a fold, lost, or (until flushed) in an
/// open fold: calls = (Submitted − FoldRecords) + FoldedCalls + Lost.
/// </summary>
public readonly record struct KernelCounterSnapshot(
    ulong Submitted, ulong Lost, ulong ExitWithoutEntry, ulong Compat, ulong FoldRecords = 0, ulong FoldedCalls = 0)
{
    /// <summary>Calls delivered as records of their own.</summary>
    public ulong SingleRecords => Submitted - FoldRecords;
}
