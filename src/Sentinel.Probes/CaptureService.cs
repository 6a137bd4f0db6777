using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sentinel.Events;
using Sentinel.Bpf;

namespace Sentinel.Probes;

/// <summary>
/// Hosts live capture: checks the environment, attaches the probes at start (so a machine we cannot capture
/// on fails start-up with its reason), and on stop drains the ring and completes the channel.
/// </summary>
public sealed class CaptureService(
    ChannelWriter<MovePagesEvent> writer, EventPool pool, CaptureOptions options, ILoggerFactory loggers) : IHostedService, IDisposable
{
    private readonly ILogger _logger = loggers.CreateLogger("Sentinel.Capture");
    private CaptureSource? _source;

    /// <summary>Null until started.</summary>
    public CaptureSource? Source => _source;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        BpfEnvironment.EnsureReady();
        Sentinel.Bpf.Native.LibbpfLog.Install(loggers.CreateLogger("Sentinel.Libbpf"));
        var probe = MovePagesProbe.Attach(_logger, options.Strategies);
        _source = new CaptureSource(probe, writer, pool, options, _logger);
        _source.Start();
        Attached?.Invoke(probe);
        return Task.CompletedTask;
    }

    /// <summary>Raised once the probes are attached and the reader runs.</summary>
    public event Action<MovePagesProbe>? Attached;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _source?.Stop();
        return Task.CompletedTask;
    }

    public void Dispose() => _source?.Dispose();
}
