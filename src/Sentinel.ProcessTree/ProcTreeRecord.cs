using System.Runtime.InteropServices;

namespace Sentinel.ProcessTree;

/// <summary>What a process-tree record reports (bpf/proctree.h, enum snt_proc_kind).</summary>
public enum ProcRecordKind : uint
{
    Fork = 1,
    Exec = 2,
    Exit = 3,
}

[Flags]
public enum ProcRecordFlags : uint
{
    None = 0,
    SetuidExe = 1,
    SetgidExe = 2,
}

/// <summary>
/// The userspace mirror of <c>struct snt_proc_event</c> in bpf/proctree.h, field for field. Times are
/// CLOCK_BOOTTIME ns; <see cref="StartNs"/> is the task's start_boottime.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 8)]
public unsafe struct ProcTreeRecord
{
    public const uint Magic = 0x50544e53;
    public const int CommLength = 16;
    public const int PathLength = 256;
    public const int ArgsLength = 256;

    public uint RecordMagic;
    public ProcRecordKind Kind;
    public ulong TimeNs;
    public ulong StartNs;
    public ulong ParentStartNs;
    public ulong MountNamespace;
    public ulong PidNamespace;
    public ulong CgroupId;
    public int Pid;
    public int ParentPid;
    public uint Uid;
    public uint Euid;
    public uint Gid;
    public int ExitCode;
    public ProcRecordFlags Flags;
    public uint ArgsUsed;
    public fixed byte Comm[CommLength];
    public fixed byte FileName[PathLength];
    public fixed byte Args[ArgsLength];

    /// <summary>Reads a record from a ring-buffer sample; false if it is short or not a process record.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out ProcTreeRecord record)
    {
        if (data.Length < sizeof(ProcTreeRecord) || MemoryMarshal.Read<uint>(data) != Magic)
        {
            record = default;
            return false;
        }
        record = MemoryMarshal.Read<ProcTreeRecord>(data);
        return record.Kind is ProcRecordKind.Fork or ProcRecordKind.Exec or ProcRecordKind.Exit;
    }

    /// <summary>The comm bytes up to the first NUL.</summary>
    public readonly ReadOnlySpan<byte> CommBytes => CString(MemoryMarshal.CreateReadOnlySpan(in Comm[0], CommLength));
    public readonly ReadOnlySpan<byte> FileNameBytes => CString(MemoryMarshal.CreateReadOnlySpan(in FileName[0], PathLength));
    /// <summary>argv as the kernel laid it out: NUL-separated, possibly truncated.</summary>
    public readonly ReadOnlySpan<byte> ArgsBytes =>
        MemoryMarshal.CreateReadOnlySpan(in Args[0], (int)Math.Min(ArgsUsed, (uint)ArgsLength));

    private static ReadOnlySpan<byte> CString(ReadOnlySpan<byte> bytes)
    {
        var nul = bytes.IndexOf((byte)0);
        return nul < 0 ? bytes : bytes[..nul];
    }
}
