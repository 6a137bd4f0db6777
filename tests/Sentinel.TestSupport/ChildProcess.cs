using System.Diagnostics;
using System.Text;

namespace Sentinel.TestSupport;

/// <summary>
/// A child process with its output captured line by line: stdout both kept whole and readable in order
/// (<see cref="ReadLine"/>), stderr kept whole; waits are bounded and fail with the output's end. Killed (with
/// its tree) on dispose. The specialised wrappers (sentinel, the test host, the stepper…) build on it.
/// </summary>
public class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new(), _stderr = new();
    private readonly List<string> _stdoutLines = [];
    private readonly SemaphoreSlim _changed = new(0);
    private int _readCursor;
    private bool _stdoutClosed;

    public ChildProcess(string file, IEnumerable<string> args, string? name = null, string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        Name = name ?? Path.GetFileName(file);
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            if (value is null) info.Environment.Remove(key); // unset, not empty
            else info.Environment[key] = value;
        _process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        _process.OutputDataReceived += (_, e) =>
        {
            lock (_stdoutLines)
            {
                if (e.Data is null) _stdoutClosed = true;
                else { _stdout.AppendLine(e.Data); _stdoutLines.Add(e.Data); }
            }
            _changed.Release(); // also at the end of output, so a reader learns at once that the process is gone
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stderr) _stderr.AppendLine(e.Data);
            _changed.Release();
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>What failure messages call the process.</summary>
    public string Name { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>User plus system CPU time of the process so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }
    public string Stdout { get { lock (_stdoutLines) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public IReadOnlyList<string> StdoutLines { get { lock (_stdoutLines) return _stdoutLines.ToArray(); } }

    /// <summary>The end of stdout and stderr, for failure messages (a flood's output can run to megabytes).</summary>
    public string OutputTail => $"{Name} stdout (end):\n{Tail(Stdout)}\n{Name} stderr (end):\n{Tail(Stderr)}";

    private static string Tail(string text, int max = 8_000) => text.Length <= max ? text : "…" + text[^max..];

    /// <summary>
    /// The next stdout line not yet read, or null once stdout has closed with none left; fails if none comes within
    /// <paramref name="seconds"/>.
    /// </summary>
    public string? ReadLine(int seconds = 90)
    {
        string? line = null;
        Wait.Until(() => TryTakeLine(out line), $"a line from {Name}", seconds, () => OutputTail, wake: _changed);
        return line;
    }

    public async Task<string?> ReadLineAsync(int seconds = 90)
    {
        string? line = null;
        await Wait.UntilAsync(() => TryTakeLine(out line), $"a line from {Name}", seconds, () => OutputTail, wake: _changed);
        return line;
    }

    /// <summary>Like <see cref="ReadLineAsync"/>, but the end of stdout is a failure too.</summary>
    public async Task<string> ExpectLineAsync(int seconds = 90) =>
        await ReadLineAsync(seconds) ?? throw new WaitFailedException($"{Name} exited ({ExitInfo}) instead of answering\n{OutputTail}");

    private bool TryTakeLine(out string? line)
    {
        lock (_stdoutLines)
        {
            line = _readCursor < _stdoutLines.Count ? _stdoutLines[_readCursor++] : null;
            return line is not null || _stdoutClosed;
        }
    }

    /// <summary>Whether a stdout line is waiting for <see cref="ReadLine"/>, without blocking.</summary>
    public bool HasLine { get { lock (_stdoutLines) return _readCursor < _stdoutLines.Count; } }

    public void WriteLine(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits until <paramref name="condition"/> holds; fails with the output if it times out or the process exits first.</summary>
    public void WaitUntil(Func<bool> condition, string what, int timeoutSeconds = 30) =>
        Wait.Until(condition, what, timeoutSeconds, () => OutputTail, StoppedReason, _changed);

    public Task WaitUntilAsync(Func<bool> condition, string what, int timeoutSeconds = 30) =>
        Wait.UntilAsync(condition, what, timeoutSeconds, () => OutputTail, StoppedReason, _changed);

    /// <summary>Waits until stderr contains <paramref name="text"/> (e.g. "attached").</summary>
    public void WaitForStderr(string text, int timeoutSeconds = 60) =>
        WaitUntil(() => Stderr.Contains(text), $"{Name}'s stderr to contain '{text}'", timeoutSeconds);

    public Task WaitForStderrAsync(string text, int timeoutSeconds = 60) =>
        WaitUntilAsync(() => Stderr.Contains(text), $"{Name}'s stderr to contain '{text}'", timeoutSeconds);

    private string? StoppedReason()
    {
        if (!_process.HasExited) return null;
        _process.WaitForExit(); // the async readers have delivered everything
        return $"{Name} exited ({_process.ExitCode})";
    }

    private string ExitInfo => _process.HasExited ? $"exit code {_process.ExitCode}" : "still running";

    /// <summary>Sends a signal by name (TERM, INT, KILL, STOP, CONT…).</summary>
    public void Signal(string signal) => Process.Start("kill", $"-{signal} {_process.Id}")!.WaitForExit();

    /// <summary>The exit code; kills the process and fails if it is still running after <paramref name="timeout"/>.</summary>
    public int WaitForExit(TimeSpan timeout) => Exited(_process.WaitForExit(timeout), timeout);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var exited = await _process.WaitForExitAsync(cancel.Token).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default);
        return Exited(exited, timeout);
    }

    private int Exited(bool exited, TimeSpan timeout)
    {
        if (!exited)
        {
            _process.Kill(entireProcessTree: true);
            throw new WaitFailedException($"{Name} did not exit within {timeout}\n{OutputTail}");
        }
        _process.WaitForExit(); // flush the async readers
        return _process.ExitCode;
    }

    /// <summary>SIGKILL (no shutdown path runs), then waits until it is gone and its output drained.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: false);
        _process.WaitForExit();
    }

    public virtual void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // exited between the check and the kill
        }
        _process.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Runs <paramref name="file"/> to completion; kills it and fails if it takes longer than <paramref name="seconds"/>.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, int seconds = 120,
        string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        using var p = new ChildProcess(file, args, workingDirectory: workingDirectory, environment: environment);
        p.CloseInput();
        var code = p.WaitForExit(TimeSpan.FromSeconds(seconds));
        return (code, p.Stdout, p.Stderr);
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args, int seconds = 120, string? workingDirectory = null)
    {
        using var p = new ChildProcess(file, args, workingDirectory: workingDirectory);
        p.CloseInput();
        var code = await p.WaitForExitAsync(TimeSpan.FromSeconds(seconds));
        return (code, p.Stdout, p.Stderr);
    }

    /// <summary><see cref="Run"/> that fails, with the command and its stderr, unless it exits 0; returns stdout.</summary>
    public static string RunChecked(string file, params string[] args)
    {
        var (code, stdout, stderr) = Run(file, args);
        if (code != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {code}: {stderr}{stdout}");
        return stdout;
    }
}
