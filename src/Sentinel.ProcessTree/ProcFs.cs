using System.Globalization;
using System.Text;
using Sentinel.Events;

namespace Sentinel.ProcessTree;

/// <summary>
/// Reads processes from procfs: the startup seed, and the slow path for a process the probes have not
/// reported yet. Allocates freely; it never runs per event in steady state.
/// </summary>
internal sealed class ProcFs(string root, int maxArgs)
{
    public string Root { get; } = root;

    /// <summary>The pids of all processes now in procfs.</summary>
    public IEnumerable<int> Pids()
    {
        foreach (var dir in Directory.EnumerateDirectories(Root))
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) yield return pid;
        }
    }

    /// <summary>Reads one process; null if it is gone or unreadable. ParentStartTimeNs is filled from the parent's stat.</summary>
    public ProcessInfo? TryRead(int pid, StringPool strings, ContainerCache containers)
    {
        var dir = Path.Combine(Root, pid.ToString(CultureInfo.InvariantCulture));
        if (!Directory.Exists(dir) || !TryReadStat(dir, out var comm, out var ppid, out var startNs)) return null;
        var (uid, euid, gid) = ReadIds(dir);
        var exe = ReadLink(Path.Combine(dir, "exe"));
        var cgroupPath = ReadCgroupPath(dir);
        var info = new ProcessInfo
        {
            Pid = pid,
            StartTimeNs = startNs,
            ParentPid = ppid,
            ParentStartTimeNs = ppid > 0 && TryReadStat(Path.Combine(Root, ppid.ToString(CultureInfo.InvariantCulture)), out _, out _, out var ps) ? ps : 0,
            Comm = strings.Get(comm),
            ExePath = strings.Get(exe),
            Args = ReadArgs(dir),
            Uid = uid,
            Euid = euid,
            Gid = gid,
            IsSetuid = IsSetuid(exe),
            MountNamespace = ReadNamespace(dir, "mnt"),
            PidNamespace = ReadNamespace(dir, "pid"),
            CgroupPath = strings.Get(cgroupPath),
            ContainerId = containers.ContainerIdOf(cgroupPath),
        };
        // The process may have exited and its pid been reused while we read: the identity must still match.
        return TryReadStat(dir, out _, out _, out var again) && again == startNs ? info : null;
    }

    /// <summary>The start time (normalized) of <paramref name="pid"/> now, or 0 if there is no such process.</summary>
    public ulong StartTimeOf(int pid) =>
        TryReadStat(Path.Combine(Root, pid.ToString(CultureInfo.InvariantCulture)), out _, out _, out var start) ? start : 0;

    /// <summary>The cgroup v2 path in /proc/PID/cgroup ("0::/path"), or "" if unreadable.</summary>
    public string ReadCgroupPath(int pid) => ReadCgroupPath(Path.Combine(Root, pid.ToString(CultureInfo.InvariantCulture)));

    public ulong ReadNamespace(int pid, string kind) => ReadNamespace(Path.Combine(Root, pid.ToString(CultureInfo.InvariantCulture)), kind);

    /// <summary>Parses /proc/PID/stat: "pid (comm) state ppid … starttime(22) …"; comm may hold spaces and parens.</summary>
    internal static bool TryParseStat(ReadOnlySpan<char> stat, out ReadOnlySpan<char> comm, out int ppid, out ulong startNs)
    {
        comm = default;
        ppid = 0;
        startNs = 0;
        int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
        if (open < 0 || close < open) return false;
        comm = stat[(open + 1)..close];
        // Fields after comm, counted from 3 (state).
        var rest = stat[(close + 1)..].Trim();
        var field = 3;
        foreach (var range in rest.Split(' '))
        {
            var value = rest[range];
            if (field == 4 && !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ppid)) return false;
            if (field == 22)
            {
                if (!ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)) return false;
                startNs = ticks * BootClock.NsPerTick;
                return true;
            }
            field++;
        }
        return false;
    }

    private static bool TryReadStat(string dir, out string comm, out int ppid, out ulong startNs)
    {
        comm = "";
        ppid = 0;
        startNs = 0;
        Span<byte> buffer = stackalloc byte[1024];
        if (!TryReadSmall(Path.Combine(dir, "stat"), buffer, out var n)) return false;
        Span<char> chars = stackalloc char[n];
        var count = Encoding.UTF8.GetChars(buffer[..n], chars);
        if (!TryParseStat(chars[..count], out var commSpan, out ppid, out startNs)) return false;
        comm = commSpan.ToString();
        return true;
    }

    private static (uint Uid, uint Euid, uint Gid) ReadIds(string dir)
    {
        uint uid = 0, euid = 0, gid = 0;
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal)) (uid, euid) = FirstTwo(line.AsSpan(4));
                else if (line.StartsWith("Gid:", StringComparison.Ordinal)) { (gid, _) = FirstTwo(line.AsSpan(4)); break; }
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return (uid, euid, gid);

        static (uint, uint) FirstTwo(ReadOnlySpan<char> s)
        {
            Span<Range> parts = stackalloc Range[4];
            var trimmed = s.Trim();
            var n = trimmed.SplitAny(parts, " \t", StringSplitOptions.RemoveEmptyEntries);
            return n < 2 ? (0, 0) : (uint.Parse(trimmed[parts[0]], CultureInfo.InvariantCulture), uint.Parse(trimmed[parts[1]], CultureInfo.InvariantCulture));
        }
    }

    private IReadOnlyList<string> ReadArgs(string dir)
    {
        Span<byte> buffer = stackalloc byte[ProcTreeHeader.ProcArgsLen];
        return TryReadSmall(Path.Combine(dir, "cmdline"), buffer, out var n) ? SplitArgs(buffer[..n], maxArgs) : [];
    }

    /// <summary>Splits NUL-separated argv bytes (as the kernel lays them out) into at most <paramref name="max"/> strings.</summary>
    internal static IReadOnlyList<string> SplitArgs(ReadOnlySpan<byte> bytes, int max)
    {
        if (bytes.IsEmpty || max == 0) return [];
        if (bytes[^1] == 0) bytes = bytes[..^1];
        var args = new List<string>(Math.Min(max, 8));
        foreach (var range in bytes.Split((byte)0))
        {
            if (args.Count == max) break;
            args.Add(Encoding.UTF8.GetString(bytes[range]));
        }
        return args.ToArray();
    }

    private static string ReadLink(string path)
    {
        try { return new FileInfo(path).LinkTarget ?? ""; }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }

    private static ulong ReadNamespace(string dir, string kind)
    {
        // "mnt:[4026531841]"
        var target = ReadLink(Path.Combine(dir, "ns", kind)).AsSpan();
        int open = target.IndexOf('['), close = target.IndexOf(']');
        return open >= 0 && close > open && ulong.TryParse(target[(open + 1)..close], NumberStyles.None, CultureInfo.InvariantCulture, out var inode) ? inode : 0;
    }

    private static string ReadCgroupPath(string dir)
    {
        // Most misses are short-lived processes already gone: a stat is far cheaper than a thrown exception.
        if (!File.Exists(Path.Combine(dir, "cgroup"))) return "";
        try
        {
            string? firstContainer = null;
            var unified = "";
            foreach (var line in File.ReadLines(Path.Combine(dir, "cgroup")))
            {
                // "hierarchy-id:controllers:path"; the unified (v2) hierarchy is "0::path".
                var second = line.IndexOf(':', line.IndexOf(':') + 1);
                if (second < 0) continue;
                var path = line[(second + 1)..];
                if (line.StartsWith("0::", StringComparison.Ordinal)) unified = path;
                else if (firstContainer is null && ContainerIds.TryParse(path, out _, out _)) firstContainer = path;
            }
            // On hybrid (v1 + v2) hosts a runtime may only place the container in the v1 hierarchies.
            return !ContainerIds.TryParse(unified, out _, out _) && firstContainer is not null ? firstContainer : unified;
        }
        catch (IOException) { return ""; }
        catch (UnauthorizedAccessException) { return ""; }
    }

    private static bool IsSetuid(string exe)
    {
        if (OperatingSystem.IsWindows() || exe.Length == 0 || exe.EndsWith(" (deleted)", StringComparison.Ordinal)) return false;
        try { return (File.GetUnixFileMode(exe) & UnixFileMode.SetUser) != 0; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    private static bool TryReadSmall(string path, Span<byte> buffer, out int length)
    {
        length = 0;
        try
        {
            using var handle = File.OpenHandle(path);
            while (length < buffer.Length)
            {
                var n = RandomAccess.Read(handle, buffer[length..], length);
                if (n == 0) break;
                length += n;
            }
            return length > 0;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
