using System.Runtime.InteropServices;

namespace Sentinel.Bpf.Native;

/// <summary>The slice of libbpf 1.x (libbpf.so.1) Sentinel uses. In 1.x, failures return NULL or -errno and set errno.</summary>
public static unsafe partial class Libbpf
{
    public const string Library = "libbpf.so.1";

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial nint bpf_object__open_file(string path, nint opts);

    [LibraryImport(Library, SetLastError = true)]
    internal static partial int bpf_object__load(BpfObjectHandle obj);

    [LibraryImport(Library)]
    internal static partial void bpf_object__close(nint obj);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint bpf_object__find_program_by_name(BpfObjectHandle obj, string name);

    [LibraryImport(Library)]
    internal static partial nint bpf_object__next_program(BpfObjectHandle obj, nint previous);

    [LibraryImport(Library)]
    internal static partial nint bpf_program__name(nint prog);

    [LibraryImport(Library)]
    internal static partial int bpf_program__set_autoload(nint prog, [MarshalAs(UnmanagedType.U1)] bool autoload);

    [LibraryImport(Library, SetLastError = true)]
    internal static partial nint bpf_program__attach(nint prog);

    [LibraryImport(Library)]
    internal static partial int bpf_link__destroy(nint link);

    [LibraryImport(Library)]
    internal static partial int bpf_program__fd(nint prog);

    [LibraryImport(Library)]
    internal static partial nint bpf_object__next_map(BpfObjectHandle obj, nint previous);

    [LibraryImport(Library)]
    internal static partial nint bpf_map__name(nint map);

    [LibraryImport(Library)]
    internal static partial nint bpf_map__initial_value(nint map, nuint* size);

    [LibraryImport(Library, SetLastError = true)]
    internal static partial int bpf_prog_test_run_opts(int progFd, BpfTestRunOptions* opts);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int bpf_object__find_map_fd_by_name(BpfObjectHandle obj, string name);

    [LibraryImport(Library, SetLastError = true)]
    internal static partial nint ring_buffer__new(int mapFd, delegate* unmanaged<nint, nint, nuint, int> sampleCallback, nint ctx, nint opts);

    [LibraryImport(Library)]
    internal static partial int ring_buffer__consume(RingBufferHandle rb);

    [LibraryImport(Library)]
    internal static partial void ring_buffer__free(nint rb);

    [LibraryImport(Library)]
    internal static partial int ring_buffer__epoll_fd(RingBufferHandle rb);

    /// <summary>libc's epoll_wait, to wait for a ring's wakeup without consuming (struct epoll_event is 12 bytes, packed, on x86-64).</summary>
    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    internal static partial int epoll_wait(int epfd, byte* events, int maxEvents, int timeoutMs);

    [LibraryImport(Library)]
    internal static partial nint libbpf_set_print(delegate* unmanaged<int, nint, nint, int> printFn);

    [LibraryImport(Library)]
    internal static partial int libbpf_num_possible_cpus();

    [LibraryImport(Library, SetLastError = true)]
    internal static partial int bpf_map_lookup_elem(int fd, void* key, void* value);

    [LibraryImport(Library, SetLastError = true)]
    internal static partial int bpf_map_update_elem(int fd, void* key, void* value, ulong flags);

    [LibraryImport(Library)]
    internal static partial int libbpf_strerror(int err, byte* buf, nuint size);

    /// <summary>libbpf's message for a (positive or negative) error code.</summary>
    public static string ErrorMessage(int err)
    {
        var buf = stackalloc byte[256];
        libbpf_strerror(Math.Abs(err), buf, 256);
        return Marshal.PtrToStringUTF8((nint)buf) ?? $"error {err}";
    }

    /// <summary>Whether libbpf.so.1 can be loaded at all (to name the missing package instead of crashing).</summary>
    public static bool IsAvailable(out string? error)
    {
        if (NativeLibrary.TryLoad(Library, typeof(Libbpf).Assembly, null, out var handle))
        {
            NativeLibrary.Free(handle);
            error = null;
            return true;
        }
        error = $"{Library} not found: install it with 'apt-get install libbpf1' (Debian/Ubuntu)";
        return false;
    }
}

/// <summary>libbpf's struct bpf_test_run_opts (bpf/bpf.h), up to batch_size.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct BpfTestRunOptions
{
    public const uint RunOnCpu = 1; // BPF_F_TEST_RUN_ON_CPU

    public nuint Size;
    public nint DataIn, DataOut;
    public uint DataSizeIn, DataSizeOut;
    public nint ContextIn, ContextOut;
    public uint ContextSizeIn, ContextSizeOut;
    public uint ReturnValue;
    public int Repeat;
    public uint Duration;
    public uint Flags;
    public uint Cpu;
    public uint BatchSize;
}

internal static unsafe partial class LibC
{
    [LibraryImport("libc")]
    internal static partial int vsnprintf(byte* buffer, nuint size, byte* format, nint args);

    [LibraryImport("libc")]
    internal static partial uint geteuid();

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int mount(string source, string target, string fsType, ulong flags, nint data);
}
