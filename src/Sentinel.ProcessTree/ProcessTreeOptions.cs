namespace Sentinel.ProcessTree;

/// <summary>Bounds and behaviour of the process tree and its enrichment.</summary>
public sealed class ProcessTreeOptions
{
    /// <summary>The most processes (live and recently exited) the tree holds; beyond it, exited ones go first, then the least recently used.</summary>
    public int Capacity { get; set; } = 32_768;

    /// <summary>How long an exited process stays resolvable, for events that arrive after its exit.</summary>
    public TimeSpan ExitGracePeriod { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many ancestors of the caller an event carries (its parent first).</summary>
    public int AncestryDepth { get; set; } = 4;

    /// <summary>The most argv entries kept per process.</summary>
    public int MaxArgs { get; set; } = 16;

    /// <summary>The most /proc look-ups per second for processes the tree has not seen, so a storm of unknown pids cannot turn into a /proc storm.</summary>
    public int MaxProcLookupsPerSecond { get; set; } = 2_000;

    /// <summary>
    /// How often the feeder reads the probes' ring while records flow (it backs off to 50 ms when idle). Larger
    /// batches cost less per record; the enricher drains on demand before each event, so this never delays
    /// what an event sees. The ring holds about 13,600 records, far more than a fork storm writes in this time.
    /// </summary>
    public TimeSpan FeederInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Where procfs is mounted.</summary>
    public string ProcRoot { get; set; } = "/proc";

    /// <summary>The host's mount and pid namespace inodes; 0 means "read from /proc/1/ns".</summary>
    public ulong HostMountNamespace { get; set; }
    public ulong HostPidNamespace { get; set; }

    internal void Validate()
    {
        if (Capacity < 16) throw new ArgumentOutOfRangeException(nameof(Capacity), Capacity, "must be at least 16");
        if (AncestryDepth < 0 || AncestryDepth > 64) throw new ArgumentOutOfRangeException(nameof(AncestryDepth), AncestryDepth, "must be 0..64");
        if (ExitGracePeriod < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ExitGracePeriod));
        if (MaxArgs < 0) throw new ArgumentOutOfRangeException(nameof(MaxArgs));
        if (FeederInterval < TimeSpan.FromMilliseconds(1) || FeederInterval > TimeSpan.FromSeconds(1))
            throw new ArgumentOutOfRangeException(nameof(FeederInterval), FeederInterval, "must be 1 ms..1 s");
    }
}
