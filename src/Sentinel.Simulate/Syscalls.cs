using System.Runtime.InteropServices;

namespace Sentinel.Simulate;

/// <summary>The raw calls scenarios make in-process: move_pages through syscall(2), and anonymous mappings.</summary>
internal static unsafe partial class Syscalls
{
    private const long SysMovePagesX64 = 279;

    public static int PageSize { get; } = Environment.SystemPageSize;

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [LibraryImport("libc")]
    private static partial int munmap(nint addr, nuint length);

    /// <summary>move_pages as the kernel returns it: ≥ 0, or −errno.</summary>
    public static long MovePages(int pid, ulong count, ulong* pages, int* nodes, int* status, int flags)
    {
        var r = Syscall6(SysMovePagesX64, pid, (long)count, (long)pages, (long)nodes, (long)status, flags);
        return r < 0 ? -Marshal.GetLastPInvokeError() : r;
    }

    /// <summary>A call over <paramref name="addresses"/>; <paramref name="node"/> null is query mode.</summary>
    public static CallResult MovePages(int pid, ReadOnlySpan<ulong> addresses, int? node, int flags)
    {
        var n = addresses.Length;
        var pages = (ulong*)NativeMemory.Alloc((nuint)n, sizeof(ulong));
        var nodes = node is null ? null : (int*)NativeMemory.Alloc((nuint)n, sizeof(int));
        var status = (int*)NativeMemory.Alloc((nuint)n, sizeof(int));
        try
        {
            for (var i = 0; i < n; i++)
            {
                pages[i] = addresses[i];
                if (nodes is not null) nodes[i] = node!.Value;
            }
            var ret = MovePages(pid, (ulong)n, pages, nodes, status, flags);
            return new CallResult(ret, new ReadOnlySpan<int>(status, n).ToArray());
        }
        finally
        {
            NativeMemory.Free(pages);
            NativeMemory.Free(nodes);
            NativeMemory.Free(status);
        }
    }

    /// <summary>An anonymous private mapping of <paramref name="pages"/> pages, each touched so it is resident.</summary>
    public sealed class Mapping : IDisposable
    {
        public Mapping(int pages)
        {
            Pages = pages;
            Address = mmap(0, (nuint)(pages * PageSize), 3 /* RW */, 0x22 /* PRIVATE|ANON */, -1, 0);
            if (Address == -1) throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
            for (var i = 0; i < pages; i++) ((byte*)Address)[i * PageSize] = (byte)(i + 1);
        }

        public nint Address { get; }
        public int Pages { get; }

        public ulong[] PageAddresses() =>
            Enumerable.Range(0, Pages).Select(i => (ulong)Address + (ulong)(i * PageSize)).ToArray();

        public void Dispose() => munmap(Address, (nuint)(Pages * PageSize));
    }
}

/// <summary>One move_pages call's outcome.</summary>
public sealed record CallResult(long Return, int[] Status)
{
    public int Errno => Return < 0 ? (int)-Return : 0;
    public string Describe() => Return < 0 ? Events.Errno.Name(Errno) : $"ret={Return}";
}
