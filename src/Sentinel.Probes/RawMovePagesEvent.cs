using System.Runtime.InteropServices;

namespace Sentinel.Probes;

/// <summary>The userspace mirror of bpf/sentinel.h's struct snt_move_pages_event (600 bytes, naturally aligned).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct RawMovePagesEvent
{
    public const uint Magic = 0x31544e53; // "SNT1"
    public const int MaxCopied = 16;
    public const int CommLength = 16;

    public uint RecordMagic;
    public uint Size;
    public ulong ExitNs;
    public ulong EnterNs;
    public ulong CapEffective;
    public ulong MountNamespace;
    public ulong PidNamespace;
    public ulong CgroupId;
    public ulong Count;
    public ulong Pages;
    public ulong Nodes;
    public ulong Status;
    public long Return;
    public uint Pid;
    public uint Tid;
    public uint Ppid;
    public uint Uid;
    public uint Euid;
    public uint Gid;
    public uint Cpu;
    public int TargetPid;
    public int Flags;
    public byte Compat;
    public byte Copied;
    public byte Copies;
    public byte Pad;
    public fixed byte Comm[CommLength];
    public fixed ulong PagesAtEntry[MaxCopied];
    public fixed ulong PagesAtExit[MaxCopied];
    public fixed int NodesAtEntry[MaxCopied];
    public fixed int NodesAtExit[MaxCopied];
    public fixed int StatusAtExit[MaxCopied];
}

/// <summary>The kernel-side counters, indexed as bpf/sentinel.h's enum snt_counter.</summary>
public enum KernelCounter
{
    Submitted = 0,
    LostRingBufferFull = 1,
    ExitWithoutEntry = 2,
    CompatCalls = 3,
}
