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
