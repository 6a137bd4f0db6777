using Sentinel.Bpf.Native;

namespace Sentinel.Bpf;

/// <summary>Checks privileges, libbpf and BTF, and mounts tracefs, bpffs and securityfs when they are missing.</summary>
public static class BpfEnvironment
{
    private const int CapPerfmon = 38, CapBpf = 39, CapSysAdmin = 21;

    private static readonly (string Type, string Path)[] Filesystems =
    [
        ("tracefs", "/sys/kernel/tracing"),
        ("bpf", "/sys/fs/bpf"),
        ("securityfs", "/sys/kernel/security"),
    ];

    public static void EnsureReady()
    {
        if (!Libbpf.IsAvailable(out var libbpfError))
            throw new BpfEnvironmentException(libbpfError!);
        var missing = MissingCapabilities();
        if (missing.Count > 0)
            throw new BpfEnvironmentException(
                $"missing {string.Join(" and ", missing)}: run as root (sudo sentinel ...) or grant them with " +
                "'setcap cap_bpf,cap_perfmon+ep' on the sentinel binary");
        if (!File.Exists("/sys/kernel/btf/vmlinux"))
            throw new BpfEnvironmentException("/sys/kernel/btf/vmlinux is missing: the kernel needs CONFIG_DEBUG_INFO_BTF=y for CO-RE probes");
        foreach (var (type, path) in Filesystems)
            EnsureMounted(type, path);
    }

    /// <summary>The capabilities we lack, by name; empty when root or when CAP_BPF and CAP_PERFMON are effective.</summary>
    public static IReadOnlyList<string> MissingCapabilities()
    {
        if (LibC.geteuid() == 0) return [];
        var effective = ReadEffectiveCapabilities();
        if ((effective & (1UL << CapSysAdmin)) != 0) return [];
        var missing = new List<string>();
        if ((effective & (1UL << CapBpf)) == 0) missing.Add("CAP_BPF");
        if ((effective & (1UL << CapPerfmon)) == 0) missing.Add("CAP_PERFMON");
        return missing;
    }

    private static ulong ReadEffectiveCapabilities()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                return Convert.ToUInt64(line["CapEff:".Length..].Trim(), 16);
        return 0;
    }

    private static void EnsureMounted(string type, string path)
    {
        if (IsMounted(path)) return;
        if (LibC.mount(type, path, type, 0, 0) != 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new BpfEnvironmentException($"{type} is not mounted at {path} and mounting it failed (errno {errno}): " +
                                                $"mount it with 'mount -t {type} {type} {path}'");
        }
    }

    private static bool IsMounted(string path) =>
        File.ReadLines("/proc/self/mounts").Any(line => line.Split(' ') is [_, var mountPoint, ..] && mountPoint == path);
}
