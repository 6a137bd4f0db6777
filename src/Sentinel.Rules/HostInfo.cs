using System.Globalization;
using System.Runtime.CompilerServices;

namespace Sentinel.Rules;

/// <summary>What rules may know about the host, read once by the engine (rules cannot read /proc themselves).</summary>
public sealed record HostInfo
{
    /// <summary>The initial mount namespace's inode, or 0 if unknown.</summary>
    public ulong MountNamespace { get; init; }
    /// <summary>The initial pid namespace's inode, or 0 if unknown.</summary>
    public ulong PidNamespace { get; init; }
    /// <summary>The number of possible NUMA nodes (node ids are 0 … NumaNodes-1), or 0 if unknown.</summary>
    public int NumaNodes { get; init; }
    public bool Is64Bit { get; init; } = true;

    public bool NamespacesKnown { [MethodImpl(MethodImplOptions.AggressiveInlining)] get => MountNamespace != 0 && PidNamespace != 0; }

    public static HostInfo Unknown { get; } = new();

    /// <summary>Reads the host facts from /proc and /sys; what cannot be read stays unknown.</summary>
    public static HostInfo Detect() => new()
    {
        MountNamespace = NamespaceInode("/proc/1/ns/mnt"),
        PidNamespace = NamespaceInode("/proc/1/ns/pid"),
        NumaNodes = PossibleNodes("/sys/devices/system/node/possible"),
        Is64Bit = Environment.Is64BitOperatingSystem,
    };

    // The link reads "mnt:[4026531841]"; the number is the namespace's inode.
    private static ulong NamespaceInode(string path)
    {
        try
        {
            var target = new FileInfo(path).LinkTarget;
            if (target is null) return 0;
            int open = target.IndexOf('['), close = target.IndexOf(']');
            return open >= 0 && close > open && ulong.TryParse(target.AsSpan(open + 1, close - open - 1), out var inode)
                ? inode
                : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    // "0" or "0-3" or "0,2-3": the highest id + 1.
    private static int PossibleNodes(string path)
    {
        try
        {
            var text = File.ReadAllText(path).Trim();
            var last = text.Split(',', '-')[^1];
            return int.TryParse(last, NumberStyles.Integer, CultureInfo.InvariantCulture, out var max) ? max + 1 : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }
}
