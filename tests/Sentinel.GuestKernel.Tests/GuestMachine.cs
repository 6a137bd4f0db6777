using System.Diagnostics;
using System.Text;

namespace Sentinel.GuestKernel.Tests;

/// <summary>A failure of the guest harness itself: the image did not build, or the guest did not finish.</summary>
public sealed class GuestException(string message) : Exception(message);

/// <summary>The built guest: Debian's kernel and the initramfs of tests/guest, cached by build.sh.</summary>
public sealed record GuestImage(string Kernel, string Initramfs, string Config, bool WasCached)
{
    private static string Scripts => Path.Combine(Sentinel.TestSupport.RepoPaths.Root, "tests", "guest");

    /// <summary>Builds the image, or reuses the cached one whose inputs are unchanged.</summary>
    public static GuestImage Build()
    {
        var run = GuestProcess.Run("bash", [Path.Combine(Scripts, "build.sh")], TimeSpan.FromMinutes(10));
        if (run.ExitCode != 0)
            throw new GuestException($"the guest image did not build (exit {run.ExitCode}): {run.Stderr.Trim()}");
        var values = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=', 2)).Where(kv => kv.Length == 2).ToDictionary(kv => kv[0], kv => kv[1]);
        return new GuestImage(values["kernel"], values["initramfs"], values["config"], values["cached"] == "yes");
    }

    /// <summary>Boots the guest once and returns what /init wrote to the data port; the guest powers off when done.</summary>
    public GuestRun Boot(TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-guest-");
        string console = Path.Combine(dir.FullName, "console.log"), data = Path.Combine(dir.FullName, "data.log");
        try
        {
            var clock = Stopwatch.StartNew();
            var run = GuestProcess.Run("bash", [Path.Combine(Scripts, "run.sh"), Kernel, Initramfs, console, data],
                timeout, environment);
            var consoleLog = ReadIfExists(console);
            if (run.TimedOut)
                throw new GuestException($"the guest did not finish within {timeout.TotalSeconds:0} s and was killed.\n" +
                                         $"--- console log ---\n{consoleLog}\n--- data port ---\n{ReadIfExists(data)}");
            if (run.ExitCode != 0)
                throw new GuestException($"qemu failed (exit {run.ExitCode}): {run.Stderr.Trim()}\n--- console log ---\n{consoleLog}");
            var lines = ReadIfExists(data).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (lines.LastOrDefault() != "done")
                throw new GuestException("the guest powered off before /init reported done.\n" +
                                         $"--- console log ---\n{consoleLog}\n--- data port ---\n{string.Join('\n', lines)}");
            return new GuestRun(lines, consoleLog, clock.Elapsed);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string ReadIfExists(string path) => File.Exists(path) ? File.ReadAllText(path) : "(none)";
}

/// <summary>What one boot produced: the data-port lines, the kernel console and the wall time.</summary>
public sealed record GuestRun(IReadOnlyList<string> DataLines, string ConsoleLog, TimeSpan Elapsed);

internal static class GuestProcess
{
    public sealed record Result(int ExitCode, bool TimedOut, string Stdout, string Stderr);

    /// <summary>Runs to completion or to the timeout, after which the whole process tree is killed.</summary>
    public static Result Run(string file, IEnumerable<string> args, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        using var process = Process.Start(info)!;
        StringBuilder stdout = new(), stderr = new();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var finished = process.WaitForExit(timeout);
        if (!finished) process.Kill(entireProcessTree: true);
        process.WaitForExit(); // flushes the readers; after a kill, reaps the tree
        lock (stdout) lock (stderr)
            return new Result(finished ? process.ExitCode : -1, !finished, stdout.ToString(), stderr.ToString());
    }
}
