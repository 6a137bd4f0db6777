using System.Runtime.InteropServices;
using Sentinel.Bpf.Native;

namespace Sentinel.Bpf;

/// <summary>A BPF object file opened through libbpf: choose programs, load, attach, find maps.</summary>
public sealed class BpfObject : IDisposable
{
    private readonly BpfObjectHandle _handle;
    private readonly List<BpfLinkHandle> _links = [];

    private BpfObject(BpfObjectHandle handle, string path)
    {
        _handle = handle;
        Path = path;
    }

    public string Path { get; }

    public static BpfObject Open(string path)
    {
        if (!File.Exists(path))
            throw new BpfException(BpfErrorKind.ObjectMissing, 2 /* ENOENT */,
                $"BPF object {path} not found: build it with 'make -C bpf' (dotnet build does this)");
        var raw = Libbpf.bpf_object__open_file(path, 0);
        if (raw == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new BpfException(BpfErrorKind.Open, errno, $"cannot open {path}: {Libbpf.ErrorMessage(errno)}");
        }
        var handle = new BpfObjectHandle();
        Marshal.InitHandle(handle, raw);
        return new BpfObject(handle, path);
    }

    public IReadOnlyList<string> ProgramNames()
    {
        var names = new List<string>();
        for (var prog = Libbpf.bpf_object__next_program(_handle, 0); prog != 0; prog = Libbpf.bpf_object__next_program(_handle, prog))
            names.Add(Marshal.PtrToStringUTF8(Libbpf.bpf_program__name(prog)) ?? "");
        return names;
    }

    /// <summary>Loads only <paramref name="programs"/>; the others stay out of the kernel.</summary>
    public void SelectPrograms(IReadOnlyCollection<string> programs)
    {
        foreach (var name in ProgramNames())
            Libbpf.bpf_program__set_autoload(Program(name), programs.Contains(name));
    }

    /// <summary>
    /// Sets a <c>const volatile</c> u32 in the object's .rodata before <see cref="Load"/>. The section must hold
    /// exactly the u32s named in <paramref name="layout"/>, in order (checked by size).
    /// </summary>
    public unsafe void SetReadOnly(string[] layout, string name, uint value)
    {
        for (var map = Libbpf.bpf_object__next_map(_handle, 0); map != 0; map = Libbpf.bpf_object__next_map(_handle, map))
        {
            if (Marshal.PtrToStringUTF8(Libbpf.bpf_map__name(map)) is not { } mapName || !mapName.EndsWith(".rodata", StringComparison.Ordinal))
                continue;
            nuint size;
            var data = (uint*)Libbpf.bpf_map__initial_value(map, &size);
            var index = Array.IndexOf(layout, name);
            if (data is null || size != (nuint)(layout.Length * sizeof(uint)) || index < 0)
                throw new BpfException(BpfErrorKind.Lookup, 0,
                    $"{Path}: .rodata is {size} bytes, expected {layout.Length} u32s ({string.Join(", ", layout)})");
            data[index] = value;
            return;
        }
        throw new BpfException(BpfErrorKind.Lookup, 0, $"{Path} has no .rodata");
    }

    public void Load()
    {
        var rc = Libbpf.bpf_object__load(_handle);
        if (rc != 0)
            throw new BpfException(BpfErrorKind.Load, rc, $"load failed: {Libbpf.ErrorMessage(rc)}{Detail()}");
    }

    /// <summary>Attaches a program at the hook its SEC() names.</summary>
    public void Attach(string program)
    {
        var raw = Libbpf.bpf_program__attach(Program(program));
        if (raw == 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new BpfException(BpfErrorKind.Attach, errno, $"attach {program}: {Libbpf.ErrorMessage(errno)}{Detail()}");
        }
        var link = new BpfLinkHandle();
        Marshal.InitHandle(link, raw);
        _links.Add(link);
    }

    /// <summary>
    /// Runs a loaded (not attached) raw_tp program once on <paramref name="cpu"/> (BPF_PROG_TEST_RUN), for work
    /// that must happen on the CPU whose per-CPU state it touches. Returns the program's return value.
    /// </summary>
    public unsafe uint RunOnCpu(string program, int cpu)
    {
        var fd = Libbpf.bpf_program__fd(Program(program));
        var context = stackalloc ulong[1];
        var opts = new BpfTestRunOptions
        {
            Size = (nuint)sizeof(BpfTestRunOptions),
            ContextIn = (nint)context,
            ContextSizeIn = sizeof(ulong),
            Flags = BpfTestRunOptions.RunOnCpu,
            Cpu = (uint)cpu,
        };
        var rc = Libbpf.bpf_prog_test_run_opts(fd, &opts);
        if (rc != 0)
            throw new BpfException(BpfErrorKind.Run, rc, $"run {program} on cpu {cpu}: {Libbpf.ErrorMessage(rc)}");
        return opts.ReturnValue;
    }

    /// <summary>A loaded program's fd (its /proc/self/fdinfo entry carries the kernel's run-time statistics).</summary>
    public int ProgramFd(string program) => Libbpf.bpf_program__fd(Program(program));

    public bool HasMap(string map) => Libbpf.bpf_object__find_map_fd_by_name(_handle, map) >= 0;

    public int MapFd(string map)
    {
        var fd = Libbpf.bpf_object__find_map_fd_by_name(_handle, map);
        return fd >= 0 ? fd : throw new BpfException(BpfErrorKind.Lookup, 0, $"{Path} has no map '{map}'");
    }

    private nint Program(string name)
    {
        var prog = Libbpf.bpf_object__find_program_by_name(_handle, name);
        return prog != 0 ? prog : throw new BpfException(BpfErrorKind.Lookup, 0, $"{Path} has no program '{name}'");
    }

    /// <summary>Detaches every attached program; maps stay readable until <see cref="Dispose"/>.</summary>
    public void Detach()
    {
        foreach (var link in _links) link.Dispose();
        _links.Clear();
    }

    private static string Detail() => LibbpfLog.LastWarning is { } warning ? $" (libbpf: {warning})" : "";

    public void Dispose()
    {
        Detach();
        _handle.Dispose();
    }
}
