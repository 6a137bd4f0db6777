using System.Diagnostics;
using Sentinel.TestSupport;

namespace Sentinel.Server.Tests;

/// <summary>The test host as a real child process: the server, journal and pipeline, driven over stdin.</summary>
public sealed class TestHostProcess : IDisposable
{
    private readonly Process _process;

    private TestHostProcess(Process process, string address, ulong lastAtStart)
    {
        _process = process; Address = address; LastAtStart = lastAtStart;
    }

    public string Address { get; }
    public ulong LastAtStart { get; }
    public int Pid => _process.Id;

    public static async Task<TestHostProcess> StartAsync(string journalPath, params string[] extraArgs)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])[RepoPaths.TestHostDll, "--journal", journalPath, .. extraArgs]) start.ArgumentList.Add(arg);
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("[agent] " + e.Data); };
        process.BeginErrorReadLine();
        var line = await ReadLineAsync(process);
        var parts = line.Split(' '); // "listening ADDRESS last N"
        if (parts is not ["listening", var address, "last", var last])
            throw new InvalidOperationException("agent did not start: " + line);
        return new TestHostProcess(process, address, ulong.Parse(last));
    }

    /// <summary>Emits detections and returns the last committed sequence once they are all durable.</summary>
    public async Task<ulong> EmitAsync(int count, string rule = "SNT-0001", int severity = 4)
    {
        await SendAsync($"emit {count} {rule} {severity}");
        var line = await ReadLineAsync(_process);
        return line.StartsWith("ok ") ? ulong.Parse(line[3..]) : throw new InvalidOperationException(line);
    }

    public Task SendAsync(string command) => _process.StandardInput.WriteLineAsync(command).ContinueWith(_ => _process.StandardInput.FlushAsync()).Unwrap();

    /// <summary>SIGKILL: no shutdown path runs.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: false);
        _process.WaitForExit(30_000);
    }

    public async Task QuitAsync()
    {
        await SendAsync("quit");
        await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
    }

    private static async Task<string> ReadLineAsync(Process process)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        return await process.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("agent exited");
    }

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
    }
}
