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

    /// <summary>The pid the stepper sees itself as (1 when it is the init of a new pid namespace).</summary>
    public int Pid { get; }

    /// <summary>The stepper's pid as the kernel's records give it (the host's pid namespace).</summary>
    public int HostPid => LeafOf(_process.Id);

    /// <summary>
    /// Starts stepper64 or stepper32, as uid/gid 65534 (nobody) when <paramref name="asNobody"/>, under
    /// <paramref name="prefix"/> (e.g. unshare) when given; a prefix must exec or fork the stepper as its only child.
    /// </summary>
    public static Stepper Start(string args, bool compat = false, bool asNobody = false, string[]? prefix = null)
    {
        var binary = Path.Combine(AppContext.BaseDirectory, compat ? "stepper32" : "stepper64");
        var command = new List<string>(prefix ?? []);
        if (asNobody) command.AddRange(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]);
        command.Add(binary);
        var info = new ProcessStartInfo(command[0]);
        foreach (var a in command.Skip(1)) info.ArgumentList.Add(a);
        foreach (var a in args.Split(' ', StringSplitOptions.RemoveEmptyEntries)) info.ArgumentList.Add(a);
        info.RedirectStandardInput = info.RedirectStandardOutput = true;
        return new Stepper(Process.Start(info)!);
    }

    /// <summary>Makes one call; returns its post-call line, or null if the process died before printing it.</summary>
    public string? Step()
    {
        Send();
        return NextLine();
    }

    /// <summary>Lets the stepper make one call without waiting for its line.</summary>
    public void Send()
    {
        _process.StandardInput.WriteLine();
        _process.StandardInput.Flush();
    }

    /// <summary>Whether a line is waiting, without blocking.</summary>
    public bool HasLine => _lines.Count > 0;

    /// <summary>Follows a forking prefix (unshare --fork) down to its last descendant: the stepper.</summary>
    private static int LeafOf(int pid)
    {
        while (true)
        {
            string children;
            try { children = File.ReadAllText($"/proc/{pid}/task/{pid}/children").Trim(); }
            catch (IOException) { return pid; }
            if (children.Length == 0) return pid;
            pid = int.Parse(children.Split(' ')[0]);
        }
    }

    public string? NextLine()
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
