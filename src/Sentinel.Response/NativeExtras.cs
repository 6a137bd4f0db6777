using System.Runtime.InteropServices;
using Sentinel.Bpf.Native;

namespace Sentinel.Response;

/// <summary>The few libbpf and libc calls the response needs beyond Sentinel.Probes' layer.</summary>
internal static unsafe partial class NativeExtras
{
    private const int BpfProgTypeTracepoint = 5, BpfFuncSendSignal = 109;

    [LibraryImport(Libbpf.Library, SetLastError = true)]
    internal static partial int bpf_map_delete_elem(int fd, void* key);

    [LibraryImport(Libbpf.Library)]
    private static partial int libbpf_probe_bpf_helper(int progType, int helper, nint opts);

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, byte* buf);

    /// <summary>Whether a tracepoint program may call bpf_send_signal (Linux 5.3+).</summary>
    public static bool HasSendSignal() => libbpf_probe_bpf_helper(BpfProgTypeTracepoint, BpfFuncSendSignal, 0) == 1;

    /// <summary>The inode number of a path (x86_64 struct stat: st_ino at offset 8); for a cgroup v2 directory it is the cgroup id.</summary>
    public static ulong Inode(string path)
    {
        var buf = stackalloc byte[256];
        if (Stat(path, buf) != 0)
            throw new ArgumentException($"{path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return *(ulong*)(buf + 8);
    }
}
