using System.Diagnostics;
using System.Text;

namespace Sentinel.TestSupport;

/// <summary>The built `sentinel` binary run as a child process, with its output captured line by line.</summary>
public sealed class SentinelProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new(), _stderr = new();
    private readonly List<string> _stdoutLines = [];
    private readonly SemaphoreSlim _lineArrived = new(0);

    private SentinelProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stdout) { _stdout.AppendLine(e.Data); _stdoutLines.Add(e.Data); }
            _lineArrived.Release();
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stderr) _stderr.AppendLine(e.Data);
            _lineArrived.Release();
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The copy next to the tests when they reference the CLI, else the CLI's own build output.</summary>
    public static string Binary { get; } =
        File.Exists(Path.Combine(AppContext.BaseDirectory, "sentinel.dll")) ? Path.Combine(AppContext.BaseDirectory, "sentinel") : RepoPaths.Sentinel;

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public IReadOnlyList<string> StdoutLines { get { lock (_stdout) return _stdoutLines.ToArray(); } }

    public static SentinelProcess Start(params string[] args) => Start(args, prefix: null);

    /// <summary>Starts sentinel, optionally under a wrapper such as setpriv (<paramref name="prefix"/> is its argv).</summary>
    public static SentinelProcess Start(string[] args, string[]? prefix)
    {
        var info = prefix is null ? new ProcessStartInfo(Binary) : new ProcessStartInfo(prefix[0]);
        if (prefix is not null)
        {
            foreach (var a in prefix[1..]) info.ArgumentList.Add(a);
            info.ArgumentList.Add(Binary);
        }
        foreach (var a in args) info.ArgumentList.Add(a);
        info.RedirectStandardOutput = info.RedirectStandardError = true;
        info.RedirectStandardInput = true;
        return new SentinelProcess(Process.Start(info)!);
    }

    /// <summary>Runs sentinel to completion.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        using var p = Start(args);
        var code = p.WaitForExit(TimeSpan.FromSeconds(120));
        return (code, p.Stdout, p.Stderr);
    }

    /// <summary>Waits until stderr contains <paramref name="text"/> (e.g. "attached"); fails with the output if it exits first.</summary>
    public void WaitForStderr(string text, int timeoutSeconds = 60) =>
        WaitUntil(() => Stderr.Contains(text), $"stderr to contain '{text}'", timeoutSeconds);

    public void WaitUntil(Func<bool> condition, string what, int timeoutSeconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (!condition())
        {
            if (_process.HasExited && !condition())
            {
                _process.WaitForExit();
                if (condition()) return;
                throw new Xunit.Sdk.XunitException($"sentinel exited ({_process.ExitCode}) before {what}.\n{OutputTail}");
            }
            if (DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException($"timed out waiting for {what}.\n{OutputTail}");
            _lineArrived.Wait(TimeSpan.FromMilliseconds(100));
        }
    }

    /// <summary>The end of stdout and stderr, for failure messages (a flood's output can run to megabytes).</summary>
    public string OutputTail => $"stdout (end):\n{Tail(Stdout)}\nstderr (end):\n{Tail(Stderr)}";

    private static string Tail(string text, int max = 8_000) => text.Length <= max ? text : "…" + text[^max..];

    public void Signal(string signal) => Process.Start("kill", $"-{signal} {_process.Id}")!.WaitForExit();

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"sentinel did not exit within {timeout}.\n{OutputTail}");
        }
        _process.WaitForExit(); // flush the async readers
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}

/// <summary>The standalone move_pages callers (src/Sentinel.Simulate/native), run as separate processes.</summary>
public static class MovePagesHelper
{
    public sealed record Call(int Pid, long Ret, int Errno, int[] Status, ulong PagesAddress);

    public static string PathOf(string helper) => System.IO.Path.Combine(AppContext.BaseDirectory, helper);

    public static IReadOnlyList<Call> Run(string helper, string args, params string[] prefix)
    {
        var info = prefix.Length == 0 ? new ProcessStartInfo(PathOf(helper)) : new ProcessStartInfo(prefix[0]);
        foreach (var a in prefix.Skip(1)) info.ArgumentList.Add(a);
        if (prefix.Length > 0) info.ArgumentList.Add(PathOf(helper));
        foreach (var a in args.Split(' ', StringSplitOptions.RemoveEmptyEntries)) info.ArgumentList.Add(a);
        info.RedirectStandardOutput = info.RedirectStandardError = true;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"{helper} {args} exited {process.ExitCode}: {error}");
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
