using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Sentinel.TestSupport;

namespace Sentinel.Simulate.Tests;

/// <summary>
/// `sentinel run --format json` as a child process: started once, waited on until it says it is attached, and
/// read line by line (one sentinel.v1.Detection in the protobuf JSON mapping per line).
/// </summary>
public sealed partial class AgentProcess : IDisposable
{
    private static readonly TimeSpan AttachPatience = TimeSpan.FromSeconds(90);
    private readonly Process _process;
    private readonly ConcurrentQueue<JsonElement> _detections = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly TaskCompletionSource _attached = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public AgentProcess()
    {
        var psi = new ProcessStartInfo(Sentinel, ["run", "--format", "json", "--no-server", "--rules", RepoPaths.Rules])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) =>
        {
            if (string.IsNullOrWhiteSpace(e.Data)) return;
            try { _detections.Enqueue(JsonDocument.Parse(e.Data).RootElement.Clone()); }
            catch (JsonException) { _stderr.Enqueue("stdout (not JSON): " + e.Data); }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            _stderr.Enqueue(e.Data);
            if (e.Data.Contains("attached", StringComparison.Ordinal)) _attached.TrySetResult();
        };
        _process.Exited += (_, _) => _attached.TrySetException(new InvalidOperationException(
            $"sentinel run exited with {_process.ExitCode} before attaching:\n{Stderr}"));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (!_attached.Task.Wait(AttachPatience))
            throw new TimeoutException($"sentinel run did not report 'attached' within {AttachPatience}:\n{Stderr}");
        // The process tree and rules load alongside the probes; give the agent a moment past the attach line.
        Thread.Sleep(500);
    }

    /// <summary>The CLI built next to this configuration's output.</summary>
    public static string Sentinel { get; } = Path.Combine(RepoPaths.Root, "src", "Sentinel.Cli", "bin",
#if DEBUG
        "Debug",
#else
        "Release",
#endif
        "net10.0", "sentinel");

    public string Stderr => string.Join('\n', _stderr);

    public IReadOnlyList<JsonElement> Detections => _detections.ToArray();

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            kill(_process.Id, 2 /* SIGINT: shut down cleanly */);
            if (!_process.WaitForExit(15_000)) _process.Kill(entireProcessTree: true);
        }
        _process.WaitForExit();
        _process.Dispose();
    }

    [LibraryImport("libc")]
    private static partial int kill(int pid, int signal);
}
