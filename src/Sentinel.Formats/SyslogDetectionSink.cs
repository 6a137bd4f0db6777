using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Sentinel.Events;

namespace Sentinel.Formats;

public enum SyslogTransport
{
    Udp,
    Tcp,
    File,
}

/// <summary>Where syslog goes: <c>HOST:PORT</c> or <c>udp://HOST:PORT</c>, <c>tcp://HOST:PORT</c>, or <c>file:PATH</c>.</summary>
public sealed record SyslogTarget(SyslogTransport Transport, string Host, int Port, string? FilePath)
{
    public const int DefaultPort = 514;

    public static SyslogTarget Parse(string value)
    {
        if (value.StartsWith("file:", StringComparison.Ordinal))
            return value.Length > 5 ? new SyslogTarget(SyslogTransport.File, "", 0, value[5..]) : throw Bad(value);
        var transport = SyslogTransport.Udp;
        if (value.StartsWith("tcp://", StringComparison.Ordinal)) { transport = SyslogTransport.Tcp; value = value[6..]; }
        else if (value.StartsWith("udp://", StringComparison.Ordinal)) value = value[6..];
        var colon = value.LastIndexOf(':');
        if (colon < 0) return value.Length > 0 ? new SyslogTarget(transport, value, DefaultPort, null) : throw Bad(value);
        if (colon == 0 || !int.TryParse(value.AsSpan(colon + 1), out var port) || port is < 1 or > 65535) throw Bad(value);
        return new SyslogTarget(transport, value[..colon].Trim('[', ']'), port, null);
    }

    private static ArgumentException Bad(string value) =>
        new($"bad syslog target '{value}' (expected HOST:PORT, udp://HOST:PORT, tcp://HOST:PORT or file:PATH)");
}

/// <summary>RFC 5424 message framing.</summary>
public static class Syslog5424
{
    /// <summary>local0: the usual facility for forwarding to a SIEM.</summary>
    public const int DefaultFacility = 16;
    /// <summary>The documentation enterprise number (RFC 5612), for the structured-data id.</summary>
    public const string SdId = "sentinel@32473";

    public static int SyslogSeverity(Severity severity) => severity switch
    {
        Severity.Critical => 2, Severity.High => 3, Severity.Medium => 4, Severity.Low => 5, _ => 6,
    };

    /// <summary><c>&lt;PRI&gt;1 TIMESTAMP HOSTNAME sentinel PROCID detection [SD] MSG</c>.</summary>
    public static string Format(Detection d, string message, int facility = DefaultFacility)
    {
        var pri = facility * 8 + SyslogSeverity(d.Rule.Severity);
        var timestamp = d.Time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        var sd = new StringBuilder("[").Append(SdId);
        sd.Append(" rule=\"").Append(SdValue(d.Rule.Id)).Append('"');
        if (d.Sequence != 0) sd.Append(" seq=\"").Append(d.Sequence).Append('"');
        sd.Append(']');
        return $"<{pri}>1 {timestamp} {HeaderToken(d.Host, 255)} sentinel {Environment.ProcessId} detection {sd} {message}";
    }

    /// <summary>SD-PARAM values escape ", \ and ].</summary>
    private static string SdValue(string value) => value.Replace("\\", @"\\").Replace("\"", "\\\"").Replace("]", @"\]");

    /// <summary>Header fields are printable ASCII without spaces, or "-".</summary>
    private static string HeaderToken(string value, int max)
    {
        var clean = new string(value.Where(c => c is > ' ' and < (char)127).Take(max).ToArray());
        return clean.Length == 0 ? "-" : clean;
    }
}

/// <summary>
/// Sends each detection as RFC 5424 syslog (CEF by default) over UDP, TCP (octet-counted framing, RFC 6587) or to a
/// file. The pipeline only enqueues; a background sender does the IO and reconnects, so a dead collector never
/// stalls detection. Past <see cref="Capacity"/> queued messages the oldest are dropped and counted.
/// </summary>
public sealed class SyslogDetectionSink : IDetectionSink, IAsyncDisposable
{
    public const int Capacity = 10_000;

    private readonly SyslogTarget _target;
    private readonly IDetectionFormatter _formatter;
    private readonly int _facility;
    private readonly Channel<string> _queue;
    private readonly Task _sender;
    private readonly CancellationTokenSource _stop = new();
    private long _dropped, _sent, _errors;

    public SyslogDetectionSink(SyslogTarget target, IDetectionFormatter? formatter = null, int facility = Syslog5424.DefaultFacility)
    {
        _target = target;
        _formatter = formatter ?? new CefDetectionFormatter();
        _facility = facility;
        _queue = Channel.CreateBounded<string>(
            new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Interlocked.Increment(ref _dropped));
        _sender = Task.Run(SendLoopAsync);
    }

    public long Dropped => Interlocked.Read(ref _dropped);
    public long Sent => Interlocked.Read(ref _sent);
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Messages waiting in the queue (not counting the one being sent).</summary>
    public int Queued => _queue.Reader.Count;

    public void OnDetection(Detection detection)
    {
        var line = _formatter.Format(detection).Replace('\n', ' '); // one record a message, whatever the format
        _queue.Writer.TryWrite(Syslog5424.Format(detection, line, _facility));
    }

    /// <summary>Sends what is queued (waiting up to <paramref name="timeout"/> for a collector), then stops.</summary>
    public async ValueTask DisposeAsync() => await CloseAsync(TimeSpan.FromSeconds(10));

    public async Task CloseAsync(TimeSpan timeout)
    {
        _queue.Writer.TryComplete();
        try { await _sender.WaitAsync(timeout); }
        catch (TimeoutException) { await _stop.CancelAsync(); }
        await _sender.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task SendLoopAsync()
    {
        var reader = _queue.Reader;
        var delay = TimeSpan.FromMilliseconds(100);
        Stream? stream = null;
        UdpClient? udp = null;
        try
        {
            // Taken off the queue before the send and held until it went out: a peeked message could be dropped
            // by DropOldest mid-send, and the read after the send would then discard the next, unsent one.
            string? message = null;
            while (message is not null || await reader.WaitToReadAsync(_stop.Token))
            {
                if (message is null && !reader.TryRead(out message)) continue;
                try
                {
                    await SendAsync(message);
                    message = null;
                    Interlocked.Increment(ref _sent);
                    delay = TimeSpan.FromMilliseconds(100);
                }
                catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException)
                {
                    Interlocked.Increment(ref _errors);
                    stream?.Dispose(); stream = null;
                    udp?.Dispose(); udp = null;
                    await Task.Delay(delay, _stop.Token);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(10).Ticks));
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            stream?.Dispose();
            udp?.Dispose();
        }

        async Task SendAsync(string message)
        {
            var bytes = Encoding.UTF8.GetBytes(message);
            switch (_target.Transport)
            {
                case SyslogTransport.Udp:
                    udp ??= Connect(new UdpClient(), c => c.Connect(_target.Host, _target.Port));
                    await udp.SendAsync(bytes, _stop.Token);
                    break;
                case SyslogTransport.Tcp:
                    if (stream is null)
                    {
                        var tcp = new TcpClient { NoDelay = true };
                        try { await tcp.ConnectAsync(_target.Host, _target.Port, _stop.Token); }
                        catch { tcp.Dispose(); throw; }
                        stream = tcp.GetStream();
                    }
                    // Octet counting: "LEN SP MSG", so a message may hold any byte, newlines included.
                    await stream.WriteAsync(Encoding.ASCII.GetBytes($"{bytes.Length} "), _stop.Token);
                    await stream.WriteAsync(bytes, _stop.Token);
                    if (reader.Count == 0) await stream.FlushAsync(_stop.Token);
                    break;
                case SyslogTransport.File:
                    stream ??= new FileStream(_target.FilePath!, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
                    await stream.WriteAsync(bytes, _stop.Token);
                    await stream.WriteAsync("\n"u8.ToArray(), _stop.Token);
                    if (reader.Count == 0) await stream.FlushAsync(_stop.Token);
                    break;
            }
        }
    }

    private static T Connect<T>(T client, Action<T> connect) where T : IDisposable
    {
        try { connect(client); return client; }
        catch { client.Dispose(); throw; }
    }
}
