using System.Collections.Concurrent;
using System.Diagnostics;

namespace Sentinel.Response.Tests;

/// <summary>native/stepper.c as a child process: each <see cref="Step"/> makes one move_pages call.</summary>
internal sealed class Stepper : IDisposable
{
    private readonly Process _process;
    private readonly BlockingCollection<string> _lines = new();

    private Stepper(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is null) _lines.CompleteAdding(); else _lines.Add(e.Data); };
        process.BeginOutputReadLine();
        var ready = NextLine() ?? throw new Xunit.Sdk.XunitException("stepper exited before it was ready");
        Pid = int.Parse(ready.Split("pid=")[1]);
    }

    public int Pid { get; }

    /// <summary>Starts stepper64 or stepper32, as uid/gid 65534 (nobody) when <paramref name="asNobody"/>.</summary>
    public static Stepper Start(string args, bool compat = false, bool asNobody = false)
    {
        var binary = Path.Combine(AppContext.BaseDirectory, compat ? "stepper32" : "stepper64");
        var info = asNobody ? new ProcessStartInfo("setpriv") : new ProcessStartInfo(binary);
        if (asNobody)
            foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", binary }) info.ArgumentList.Add(a);
        foreach (var a in args.Split(' ', StringSplitOptions.RemoveEmptyEntries)) info.ArgumentList.Add(a);
        info.RedirectStandardInput = info.RedirectStandardOutput = true;
        return new Stepper(Process.Start(info)!);
    }

    /// <summary>Makes one call; returns its post-call line, or null if the process died before printing it.</summary>
    public string? Step()
    {
        _process.StandardInput.WriteLine();
        _process.StandardInput.Flush();
        return NextLine();
    }

    private string? NextLine()
    {
        try
        {
            if (_lines.TryTake(out var line, TimeSpan.FromSeconds(30))) return line;
        }
        catch (InvalidOperationException)
        {
        }
        return _lines.IsCompleted ? null : throw new Xunit.Sdk.XunitException("stepper printed nothing for 30 s"); // null: stdout closed
    }

    public int WaitForExit()
    {
        if (!_process.WaitForExit(TimeSpan.FromSeconds(30))) throw new Xunit.Sdk.XunitException("stepper did not exit");
        return _process.ExitCode;
    }

    public int Finish()
    {
        _process.StandardInput.Close();
        return WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }
}

/// <summary>The records a responder reports, waited for by condition.</summary>
internal sealed class Records
{
    private readonly List<ResponseRecord> _seen = [];
    private readonly SemaphoreSlim _arrived = new(0);

    public Records(KernelResponder responder) => responder.Responded += r =>
    {
        lock (_seen) _seen.Add(r);
        _arrived.Release();
    };

    public IReadOnlyList<ResponseRecord> All { get { lock (_seen) return _seen.ToArray(); } }

    public ResponseRecord WaitFor(Func<ResponseRecord, bool> match, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            if (All.FirstOrDefault(match) is { } found) return found;
            if (DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException($"no response record for {what}; saw: {string.Join("; ", All)}");
            _arrived.Wait(TimeSpan.FromMilliseconds(100));
        }
    }
}
