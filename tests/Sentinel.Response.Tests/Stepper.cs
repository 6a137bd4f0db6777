using Sentinel.TestSupport;

namespace Sentinel.Response.Tests;

/// <summary>native/stepper.c as a child process: each <see cref="Step"/> makes one move_pages call.</summary>
internal sealed class Stepper : ChildProcess
{
    private Stepper(List<string> argv) : base(argv[0], argv.Skip(1), "stepper")
    {
        var ready = NextLine() ?? throw new Xunit.Sdk.XunitException("stepper exited before it was ready\n" + OutputTail);
        Pid = int.Parse(ready.Split("pid=")[1]);
    }

    /// <summary>The pid the stepper sees itself as (1 when it is the init of a new pid namespace).</summary>
    public int Pid { get; }

    /// <summary>The stepper's pid as the kernel's records give it (the host's pid namespace).</summary>
    public int HostPid => LeafOf(Id);

    public static string Binary(bool compat = false) => RepoPaths.BesideTests(compat ? "stepper32" : "stepper64");

    /// <summary>
    /// Starts stepper64 or stepper32, as uid/gid 65534 (nobody) when <paramref name="asNobody"/>, under
    /// <paramref name="prefix"/> (e.g. unshare) when given; a prefix must exec or fork the stepper as its only child.
    /// </summary>
    public static Stepper Start(string args, bool compat = false, bool asNobody = false, string[]? prefix = null)
    {
        var command = new List<string>(prefix ?? []);
        if (asNobody) command.AddRange(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]);
        command.Add(Binary(compat));
        command.AddRange(args.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return new Stepper(command);
    }

    /// <summary>Makes one call; returns its post-call line, or null if the process died before printing it.</summary>
    public string? Step()
    {
        Send();
        return NextLine();
    }

    /// <summary>Lets the stepper make one call without waiting for its line.</summary>
    public void Send() => WriteLine("");

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

    /// <summary>The next line, or null once stdout closed; fails if it prints nothing for 30 s.</summary>
    public string? NextLine() => ReadLine(30);

    public int WaitForExit() => WaitForExit(TimeSpan.FromSeconds(30));

    public int Finish()
    {
        CloseInput();
        return WaitForExit();
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
        ResponseRecord? found = null;
        Wait.Until(() => (found = All.FirstOrDefault(match)) is not null, $"a response record for {what}", 10,
            () => $"saw: {string.Join("; ", All)}", wake: _arrived);
        return found!;
    }
}
