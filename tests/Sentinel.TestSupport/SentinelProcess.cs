namespace Sentinel.TestSupport;

/// <summary>The built `sentinel` binary run as a child process, with its output captured line by line.</summary>
public sealed class SentinelProcess : ChildProcess
{
    private SentinelProcess(string file, IEnumerable<string> args) : base(file, args, "sentinel")
    {
    }

    /// <summary>The `sentinel` apphost (see <see cref="RepoPaths.Sentinel"/>).</summary>
    public static string Binary => RepoPaths.Sentinel;

    public static SentinelProcess Start(params string[] args) => Start(args, prefix: null);

    /// <summary>Starts sentinel, optionally under a wrapper such as setpriv (<paramref name="prefix"/> is its argv).</summary>
    public static SentinelProcess Start(string[] args, string[]? prefix) =>
        prefix is null ? new SentinelProcess(Binary, args) : new SentinelProcess(prefix[0], [.. prefix[1..], Binary, .. args]);

    /// <summary>Runs sentinel to completion.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => ChildProcess.Run(Binary, args);
}

/// <summary>The standalone move_pages callers (src/Sentinel.Simulate/native), run as separate processes.</summary>
public static class MovePagesHelper
{
    public sealed record Call(int Pid, long Ret, int Errno, int[] Status, ulong PagesAddress);

    public static string PathOf(string helper) => RepoPaths.BesideTests(helper);

    public static IReadOnlyList<Call> Run(string helper, string args, params string[] prefix)
    {
        string[] argv = [.. prefix, PathOf(helper), .. args.Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        var (exit, output, error) = ChildProcess.Run(argv[0], argv[1..]);
        if (exit != 0)
            throw new Xunit.Sdk.XunitException($"{helper} {args} exited {exit}: {error}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Parse).ToArray();
    }

    public static Call Parse(string line)
    {
        var fields = line.Split(' ').Select(f => f.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
        return new Call(
            int.Parse(fields["pid"]),
            long.Parse(fields["ret"]),
            int.Parse(fields["errno"]),
            fields["status"].Split(',').Select(int.Parse).ToArray(),
            Convert.ToUInt64(fields["pages"][2..], 16));
    }
}
