namespace Sentinel.Bpf;

/// <summary>Reads a BPF_MAP_TYPE_PERCPU_ARRAY of u64 counters (any probe's counter map), per CPU or summed.</summary>
public sealed unsafe class KernelCounters(int mapFd)
{
    public int Cpus { get; } = Math.Max(1, Native.Libbpf.libbpf_num_possible_cpus());

    /// <summary>The counter at <paramref name="key"/>, summed over all CPUs; 0 if the key is absent.</summary>
    public ulong Read(uint key)
    {
        var values = stackalloc ulong[Cpus];
        if (!ReadPerCpu(key, new Span<ulong>(values, Cpus))) return 0;
        ulong sum = 0;
        for (var i = 0; i < Cpus; i++) sum += values[i];
        return sum;
    }

    /// <summary>The counter at <paramref name="key"/> on each CPU (<paramref name="values"/> holds <see cref="Cpus"/>).</summary>
    public bool ReadPerCpu(uint key, Span<ulong> values)
    {
        if (values.Length < Cpus) throw new ArgumentException($"needs room for {Cpus} CPUs", nameof(values));
        fixed (ulong* v = values)
            return Native.Libbpf.bpf_map_lookup_elem(mapFd, &key, v) == 0;
    }
}
