namespace Sentinel.Events;

/// <summary>move_pages flag bits (include/uapi/linux/mempolicy.h). Any other bit makes the kernel return EINVAL.</summary>
[Flags]
public enum MoveFlags
{
    None = 0,
    Move = 2,
    MoveAll = 4,
}
