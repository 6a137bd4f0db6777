using System.Diagnostics;
using System.Globalization;

namespace Sentinel.Simulate;

/// <summary>Helpers scenarios share: the native helpers, child processes (always reaped), and /proc reads.</summary>
public sealed class SimulationContext : IDisposable
{
    public const uint Nobody = 65534;

    private readonly List<Process> _children = [];
    private string? _privateDir;

    public SimulationContext(TextWriter log, string? helperDirectory = null)
    {
        Log = log;
        HelperDirectory = helperDirectory ?? AppContext.BaseDirectory;
    }

    public TextWriter Log { get; }
    public string HelperDirectory { get; }

    public static bool IsRoot => Environment.IsPrivilegedProcess;

    /// <summary>A native helper shipped next to the assemblies (move_pages64, move_pages32).</summary>
    public string Helper(string name)
    {
        var path = Path.Combine(HelperDirectory, name);
        return File.Exists(path) ? path : throw new SimulationException(
            $"helper {path} is missing: it is built with the Sentinel.Simulate project (needs gcc{(name.EndsWith("32") ? " and gcc-multilib" : "")})");
    }

    /// <summary>
    /// A copy of a helper any user can run: the build output may sit under a directory another uid cannot
    /// enter. Removed on dispose.
    /// </summary>
    public string HelperForAnyUser(string name)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException();
        if (_privateDir is null)
        {
            _privateDir = Directory.CreateTempSubdirectory("sentinel-simulate-").FullName;
            File.SetUnixFileMode(_privateDir, (UnixFileMode)0b111_101_101);
        }
        var copy = Path.Combine(_privateDir, name);
        if (!File.Exists(copy))
        {
            File.Copy(Helper(name), copy);
            File.SetUnixFileMode(copy, (UnixFileMode)0b111_101_101);
        }
        return copy;
    }

    /// <summary>Starts a long-running child (a victim). It is killed on dispose if still running.</summary>
    public Process Start(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(psi) ?? throw new SimulationException($"cannot start {file}");
        _children.Add(process);
        return process;
    }

    /// <summary>Runs a helper to completion and parses its "ret=… errno=… … pid=…" lines.</summary>
    public HelperRun Run(string file, params string[] args)
    {
        using var process = Start(file, args);
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        _children.Remove(process);
        if (process.ExitCode != 0)
            throw new SimulationException($"{Path.GetFileName(file)} {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Trim()}");
        return HelperRun.Parse(stdout);
    }

    /// <summary>Waits until <paramref name="pid"/> runs <paramref name="comm"/> (it has exec'd) with <paramref name="uid"/>.</summary>
    public static void WaitUntilRunning(int pid, string comm, uint? uid = null)
    {
        for (var i = 0; i < 1000; i++)
        {
            if (ReadComm(pid) == comm && (uid is null || ReadUid(pid) == uid)) return;
            Thread.Sleep(5);
        }
        throw new SimulationException($"process {pid} did not start {comm}");
    }

    /// <summary>Addresses of up to <paramref name="count"/> pages of <paramref name="pid"/>'s first mapping (its executable's text).</summary>
    public static ulong[] PagesOf(int pid, int count)
    {
        var first = File.ReadLines($"/proc/{pid}/maps").First();
        var dash = first.IndexOf('-');
        var space = first.IndexOf(' ');
        var start = ulong.Parse(first.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var end = ulong.Parse(first.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var n = (int)Math.Min((ulong)count, (end - start) / (ulong)Syscalls.PageSize);
        return Enumerable.Range(0, n).Select(i => start + (ulong)(i * Syscalls.PageSize)).ToArray();
    }

    /// <summary>A pid no process has now (scanning down from pid_max).</summary>
    public static int UnusedPid()
    {
        var max = int.Parse(File.ReadAllText("/proc/sys/kernel/pid_max").Trim(), CultureInfo.InvariantCulture);
        for (var pid = max - 1; pid > 300; pid--)
            if (!Directory.Exists($"/proc/{pid}")) return pid;
        throw new SimulationException("no free pid found");
    }

    private static string? ReadComm(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/comm").Trim(); }
        catch (IOException) { return null; }
    }

    public static uint? ReadUid(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            return line is null ? null : uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
        catch (IOException) { return null; }
    }

    public void Dispose()
    {
        foreach (var child in _children)
        {
            try
            {
                if (!child.HasExited)
                {
                    child.Kill(entireProcessTree: true);
                    child.WaitForExit();
                }
            }
            catch (InvalidOperationException) { }
            child.Dispose();
        }
        _children.Clear();
        if (_privateDir is not null) Directory.Delete(_privateDir, recursive: true);
        _privateDir = null;
    }
}

/// <summary>The calls a native helper made, as it printed them.</summary>
public sealed record HelperRun(IReadOnlyList<HelperCall> Calls)
{
    public static HelperRun Parse(string stdout) => new(stdout
        .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Where(l => l.StartsWith("ret=", StringComparison.Ordinal))
        .Select(HelperCall.Parse)
        .ToArray());
}

/// <summary>One helper line: "ret=R errno=E status=… pages=0x… pid=P".</summary>
public sealed record HelperCall(long Return, int Errno, int Pid)
{
    public static HelperCall Parse(string line)
    {
        long ret = 0;
        int errno = 0, pid = 0;
        foreach (var field in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = field.IndexOf('=');
            if (eq < 0) continue;
            var value = field.AsSpan(eq + 1);
            switch (field.AsSpan(0, eq))
            {
                case "ret": ret = long.Parse(value, CultureInfo.InvariantCulture); break;
                case "errno": errno = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "pid": pid = int.Parse(value, CultureInfo.InvariantCulture); break;
            }
        }
        return new HelperCall(ret, errno, pid);
    }

    public string Describe() => Return < 0 ? Events.Errno.Name(Errno) : $"ret={Return}";
}

/// <summary>A scenario could not run here (missing helper, not root): a usage error, not a crash.</summary>
public sealed class SimulationException(string message) : Exception(message);
