using Sentinel.Bpf;

namespace Sentinel.Probes;

/// <summary>The move_pages probes' counter map, read by <see cref="KernelCounter"/>.</summary>
public sealed class MovePagesCounters(int mapFd)
{
    private readonly KernelCounters _map = new(mapFd);

    public int Cpus => _map.Cpus;

    public ulong Read(KernelCounter counter) => _map.Read((uint)counter);

    public bool ReadPerCpu(KernelCounter counter, Span<ulong> values) => _map.ReadPerCpu((uint)counter, values);

    public KernelCounterSnapshot Snapshot() => new(
        Read(KernelCounter.Submitted), Read(KernelCounter.LostRingBufferFull),
        Read(KernelCounter.ExitWithoutEntry), Read(KernelCounter.CompatCalls),
        Read(KernelCounter.FoldRecords), Read(KernelCounter.FoldedCalls));
}
