using System.Runtime.InteropServices;
using Sentinel.Bpf;

namespace Sentinel.ProcessTree;

/// <summary>bpf/proctree.h's #defines and enums (ProcKind, ProcFlags), generated from the header.</summary>
[BpfHeader("proctree.h")]
public static partial class ProcTreeHeader;

/// <summary>
/// A process-tree record as the probes write it: struct snt_proc_event of bpf/proctree.h, whose fields
/// Sentinel.Bpf.Generators writes from the header. Times are CLOCK_BOOTTIME ns; <c>StartNs</c> is the task's
/// start_boottime. <c>Kind</c> is a <see cref="ProcTreeHeader.ProcKind"/>, <c>Flags</c> a set of
/// <see cref="ProcTreeHeader.ProcFlags"/>.
/// </summary>
[BpfStruct("snt_proc_event")]
public unsafe partial struct ProcTreeRecord
{
    /// <summary>Reads a record from a ring-buffer sample; false if it is short or not a process record.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out ProcTreeRecord record)
    {
        if (data.Length < sizeof(ProcTreeRecord) || MemoryMarshal.Read<uint>(data) != ProcTreeHeader.ProcMagic)
        {
            record = default;
            return false;
        }
        record = MemoryMarshal.Read<ProcTreeRecord>(data);
        return (ProcTreeHeader.ProcKind)record.Kind is ProcTreeHeader.ProcKind.Fork or ProcTreeHeader.ProcKind.Exec or ProcTreeHeader.ProcKind.Exit;
    }

    /// <summary>The comm bytes up to the first NUL.</summary>
    public readonly ReadOnlySpan<byte> CommBytes => CString(MemoryMarshal.CreateReadOnlySpan(in Comm[0], ProcTreeHeader.ProcCommLen));
    public readonly ReadOnlySpan<byte> FilenameBytes => CString(MemoryMarshal.CreateReadOnlySpan(in Filename[0], ProcTreeHeader.ProcPathLen));
    /// <summary>argv as the kernel laid it out: NUL-separated, possibly truncated.</summary>
    public readonly ReadOnlySpan<byte> ArgsBytes =>
        MemoryMarshal.CreateReadOnlySpan(in Args[0], (int)Math.Min(ArgsLen, (uint)ProcTreeHeader.ProcArgsLen));

    private static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> bytes)
    {
        var nul = bytes.IndexOf((byte)0);
        return nul < 0 ? bytes : bytes[..nul];
    }
}
