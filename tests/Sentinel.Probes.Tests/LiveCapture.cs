using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Probes;

namespace Sentinel.Probes.Tests;

/// <summary>The real probes attached to the running kernel, with a way to wait for a specific event.</summary>
internal sealed class LiveCapture : IDisposable
{
    private readonly Channel<MovePagesEvent> _channel = Channel.CreateUnbounded<MovePagesEvent>();
    private readonly CaptureSource _source;

    public LiveCapture(AttachStrategy? strategy = null)
    {
        BpfEnvironment.EnsureReady();
        var probe = MovePagesProbe.Attach(NullLogger.Instance, strategy is { } s ? [s] : null);
        _source = new CaptureSource(probe, _channel.Writer, new EventPool(), new CaptureOptions(), NullLogger.Instance);
        _source.Start();
    }

    public MovePagesProbe Probe => _source.Probe;
    public CaptureCounters Counters => _source.Counters;

    /// <summary>The first event matching <paramref name="match"/>; other tests' events are skipped.</summary>
    public MovePagesEvent WaitFor(Func<MovePagesEvent, bool> match, string what, int timeoutSeconds = 15)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var seen = 0;
        try
        {
            while (true)
            {
                var evt = _channel.Reader.ReadAsync(timeout.Token).AsTask().GetAwaiter().GetResult();
                seen++;
                if (match(evt)) return evt;
            }
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"no event for {what} within {timeoutSeconds}s ({seen} other events seen)");
        }
    }

    public void Dispose() => _source.Dispose();
}

/// <summary>Runs the move_pages32/move_pages64 helpers and parses what they report.</summary>
internal static class HelperProcess
{
    public sealed record Call(int Pid, long Ret, int Errno, int[] Status, ulong PagesAddress);

    public static Call Run(string helper, string args, string? prefix = null)
    {
        var path = Path.Combine(AppContext.BaseDirectory, helper);
        var (file, arguments) = prefix is null ? (path, args) : (prefix.Split(' ')[0], $"{string.Join(' ', prefix.Split(' ')[1..])} {path} {args}");
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{helper} {args} exited {process.ExitCode}: {error}");
        return Parse(output.Split('\n')[0]);
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
