namespace Sentinel.Events;

/// <summary>Linux capability numbers (include/uapi/linux/capability.h) that rules ask about.</summary>
public enum Capability
{
    DacOverride = 1,
    Kill = 5,
    SetUid = 7,
    NetAdmin = 12,
    IpcLock = 14,
    SysModule = 16,
    SysPtrace = 19,
    SysAdmin = 21,
    SysNice = 23,
    SysResource = 24,
    Bpf = 39,
    Perfmon = 38,
}

public static class CapabilitySet
{
    public static bool Has(ulong effective, Capability cap) => (effective & (1UL << (int)cap)) != 0;
}
