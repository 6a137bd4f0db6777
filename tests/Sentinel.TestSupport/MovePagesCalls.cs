using System.Runtime.InteropServices;

namespace Sentinel.TestSupport;

/// <summary>Real move_pages(2) calls through syscall(2), with errno mapped to the kernel's -errno return.</summary>
public static unsafe partial class MovePagesCalls
{
    public const long SysMovePagesX64 = 279;
    public const long SysGetTid = 186;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(nint addr, nuint length);

    public static int PageSize { get; } = Environment.SystemPageSize;

    /// <summary>move_pages as the kernel returns it: ≥ 0, or −errno.</summary>
    public static long MovePages(int pid, ulong count, ulong* pages, int* nodes, int* status, int flags)
    {
        var r = Syscall6(SysMovePagesX64, pid, (long)count, (long)pages, (long)nodes, (long)status, flags);
        return r < 0 ? -Marshal.GetLastPInvokeError() : r;
    }

    /// <summary>A one-page query on <paramref name="pid"/> (the page: a slot of this stack); the result as <see cref="MovePages"/> gives it.</summary>
    public static long QueryOnePage(int pid)
    {
        ulong page;
        int status;
        page = (ulong)&page;
        return MovePages(pid, 1, &page, null, &status, 0);
    }

    public static int GetTid() => (int)Syscall6(SysGetTid, 0, 0, 0, 0, 0, 0);

    /// <summary>Maps <paramref name="pages"/> anonymous private pages and touches each so it is resident.</summary>
    public static nint MapTouched(int pages)
    {
        var len = (nuint)(pages * PageSize);
        var addr = mmap(0, len, 3 /* RW */, 0x22 /* PRIVATE|ANON */, -1, 0);
        if (addr == -1) throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
        for (var i = 0; i < pages; i++) ((byte*)addr)[i * PageSize] = (byte)(i + 1);
        return addr;
    }

    public static void Unmap(nint addr, int pages) => munmap(addr, (nuint)(pages * PageSize));
}
