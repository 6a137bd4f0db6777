using System.Runtime.InteropServices;

namespace Sentinel.Response;

// Mirrors of bpf/response.h, field for field (LayoutTests check the sizes against the header's arithmetic).

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PolicyEntry
{
    public const int Size = 72;
    public PolicyFields Fields;
    public uint FlagsAll, Uid, Euid;
    public ulong MinCount, Caps;
    public uint Target, Namespace, Action, Signal, Rule, Pad;
    public fixed byte Comm[16];
}

[Flags]
internal enum PolicyFields : uint
{
    Flags = 1 << 0,
    Target = 1 << 1,
    MinCount = 1 << 2,
    Uid = 1 << 3,
    Euid = 1 << 4,
    CapsLacking = 1 << 5,
    CapsHaving = 1 << 6,
    Namespace = 1 << 7,
    Comm = 1 << 8,
    Compat = 1 << 9,
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct PolicySet
{
    public const int MaxPolicies = 16;
    public uint Count, Generation;
    public fixed byte Policies[MaxPolicies * PolicyEntry.Size];
}

[StructLayout(LayoutKind.Sequential)]
internal struct ResponseConfig
{
    public uint Mode, Active, AgentPid, Verdicts;
    public ulong HostMountNamespace;
    public uint KillsPerSecond, Policies, LsmDeny, Pad;
}

[StructLayout(LayoutKind.Sequential)]
internal struct VerdictEntry
{
    public ulong StartTicks;
    public uint Action, Signal, Rule, Pad;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct RawResponseEvent
{
    public const uint ExpectedMagic = 0x52544e53;
    public uint Magic, Size;
    public ulong TimeNs, StartNs, Count, CapEffective, MountNamespace, CgroupId;
    public uint Pid, Tid, Uid, Euid;
    public int TargetPid, Flags;
    public uint Rule, Signal;
    public int Error;
    public byte Source, Action, Result, Compat, Denied, Pad0, Pad1, Pad2;
    public uint Generation;
    public fixed byte Comm[16];
}

/// <summary>bpf/response.h's enums as userspace names them.</summary>
public enum ResponseResult : byte
{
    Signalled = 1,
    SignalFailed = 2,
    WouldKill = 3,
    RateLimited = 4,
    Protected = 5,
}

public enum ResponseSource : byte
{
    Policy = 1,
    Verdict = 2,
}
