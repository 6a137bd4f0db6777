namespace Sentinel.Events;

/// <summary>How the move_pages probes attached (the values of proto's sentinel.v1.AttachStrategy).</summary>
public enum AttachStrategy : byte
{
    Unknown = 0,
    Kprobe = 1,
    Tracepoint = 2,
    RawSyscalls = 3,
    /// <summary>BTF raw tracepoints on sys_enter/sys_exit, filtered on the syscall number (native and compat).</summary>
    BtfRawTracepoint = 4,
}
