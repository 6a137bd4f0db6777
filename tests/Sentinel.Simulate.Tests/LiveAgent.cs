using System.Text.Json;
using Sentinel.TestSupport;

namespace Sentinel.Simulate.Tests;

/// <summary>
/// `sentinel run --format json` with the built-in rules as a child process, read line by line (one
/// sentinel.v1.Detection in the protobuf JSON mapping per line).
/// </summary>
public sealed class LiveAgent : IDisposable
{
    // Above any pid_max (at most 2^22), so move_pages on it always fails with ESRCH; each marker adds its number.
    private const int MarkerPidBase = 1_900_000_000;
    private static int _markers;

    private readonly SentinelProcess _process;
    private readonly List<JsonElement> _detections = [];

    public LiveAgent()
    {
        _process = SentinelProcess.Start("run", "--format", "json", "--no-server", "--rules", RepoPaths.Rules);
        _process.WaitForStderr("attached", timeoutSeconds: 90);
        // Rules and the process tree load alongside the probes: a marker through the whole pipeline shows all are up.
        WaitForMarker();
    }

    public string Stderr => _process.Stderr;

    public IReadOnlyList<JsonElement> Detections
    {
        get
        {
            lock (_detections)
            {
                var lines = _process.StdoutLines;
                for (var i = _detections.Count; i < lines.Count; i++)
                {
                    try { _detections.Add(JsonDocument.Parse(lines[i]).RootElement.Clone()); }
                    catch (JsonException e) { throw new Xunit.Sdk.XunitException($"stdout line {i + 1} is not JSON ({e.Message}): {lines[i]}"); }
                }
                return _detections.ToArray();
            }
        }
    }

    /// <summary>
    /// Calls move_pages on a pid that cannot exist and waits until the agent reports it (SNT-0001, cross-process).
    /// The ring buffer is one queue for every CPU and the pipeline handles events in order, so once a marker is
    /// out, every call made before it has been evaluated and its detections printed. Another test's flood can
    /// fill the ring, and the kernel then drops (and counts) the marker, so a new one follows every few seconds;
    /// if capture is dead, none ever comes and this fails.
    /// </summary>
    public void WaitForMarker()
    {
        var first = Interlocked.Increment(ref _markers);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        for (var marker = first; ; marker = Interlocked.Increment(ref _markers))
        {
            Assert.Equal(-3 /* ESRCH */, MovePagesCalls.QueryOnePage(MarkerPidBase + marker));
            try
            {
                _process.WaitUntil(() => Detections.Any(d => MarkerOf(d) >= first), "a marker", timeoutSeconds: 5);
                return;
            }
            catch (Xunit.Sdk.XunitException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
            }
        }
    }

    /// <summary>The marker number of a marker's detection, else 0.</summary>
    private static int MarkerOf(JsonElement d) =>
        d.GetProperty("ruleId").GetString() == "SNT-0001" &&
        d.TryGetProperty("fields", out var fields) && fields.TryGetProperty("target_pid", out var pid) &&
        int.TryParse(pid.GetString(), out var target) && target > MarkerPidBase ? target - MarkerPidBase : 0;

    public void Dispose()
    {
        _process.Signal("INT"); // shut down cleanly
        _process.WaitForExit(TimeSpan.FromSeconds(15));
        _process.Dispose();
    }
}
