using System.Runtime.InteropServices;

namespace Sentinel.Probes;

/// <summary>
/// The userspace mirror of bpf/sentinel.h's struct snt_move_pages_event (632 bytes, naturally aligned). The C
/// struct nests the entry half (struct snt_call, from EnterNs to NodesAtEntry); here it is flattened at the
/// same offsets.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct RawMovePagesEvent
{
    public const uint Magic = 0x32544e53; // "SNT2"
    public const int MaxCopied = 16;
    public const int CommLength = 16;

    public uint RecordMagic;
    public uint Size;
    public ulong ExitNs;
    // ---- struct snt_call ----
    public ulong EnterNs;
    public ulong Count;
    public ulong Pages;
    public ulong Nodes;
    public ulong Status;
    public int TargetPid;
    public int Flags;
    public byte Compat;
    public byte Copied;
    public byte Copies;
    public fixed byte CallPad[5];
    public fixed ulong PagesAtEntry[MaxCopied];
    public fixed int NodesAtEntry[MaxCopied];
    // ---- the context and the exit ----
    public ulong CapEffective;
    public ulong MountNamespace;
    public ulong PidNamespace;
    public ulong CgroupId;
    public long Return;
    public ulong FoldCount;
    public ulong FoldFirstNs;
    public ulong FoldLastNs;
    public uint Pid;
    public uint Tid;
    public uint Ppid;
    public uint Uid;
    public uint Euid;
    public uint Gid;
    public uint Cpu;
    public uint Pad;
    public fixed byte Comm[CommLength];
    public fixed ulong PagesAtExit[MaxCopied];
    public fixed int NodesAtExit[MaxCopied];
    public fixed int StatusAtExit[MaxCopied];
}
