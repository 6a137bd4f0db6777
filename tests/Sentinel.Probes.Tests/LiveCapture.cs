using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.Bpf;

namespace Sentinel.Probes.Tests;

/// <summary>The real probes attached to the running kernel, with a way to wait for a specific event.</summary>
internal sealed class LiveCapture : IDisposable
{
    private readonly Channel<MovePagesEvent> _channel;
    private readonly CaptureSource _source;

    /// <param name="capacity">
    /// Bounds the channel: once it is full the reader blocks, as it does behind a slow pipeline, and the ring
    /// backs up. Null for an unbounded channel that never holds the reader back.
    /// </param>
    /// <param name="onlyThisProcess">Captures this process's calls alone, for exact counts while others make calls.</param>
    public LiveCapture(AttachStrategy? strategy = null, int? capacity = null, IDetectionSink? lossSink = null,
        bool onlyThisProcess = false)
    {
        BpfEnvironment.EnsureReady();
        _channel = capacity is { } c
            ? Channel.CreateBounded<MovePagesEvent>(new BoundedChannelOptions(c) { FullMode = BoundedChannelFullMode.Wait })
            : Channel.CreateUnbounded<MovePagesEvent>();
        var probe = MovePagesProbe.Attach(NullLogger.Instance, strategy is { } s ? [s] : null,
            onlyProcess: onlyThisProcess ? Environment.ProcessId : null);
        _source = new CaptureSource(probe, _channel.Writer, new EventPool(), new CaptureOptions { LossSink = lossSink },
            NullLogger.Instance);
        _source.Start();
    }

    public ChannelReader<MovePagesEvent> Events => _channel.Reader;

    public CaptureSource Source => _source;
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

    public void Dispose()
    {
        // A bounded channel nobody reads would hold the reader thread, and Stop waits for that thread.
        var drain = Task.Run(async () => { await foreach (var _ in _channel.Reader.ReadAllAsync()) { } });
        _source.Dispose();
        drain.Wait(TimeSpan.FromSeconds(30));
    }
}
