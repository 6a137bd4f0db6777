using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.Fleet.Gateway;
using Sentinel.Server;
using Sentinel.V1;
using Sentinel.TestSupport;

namespace Sentinel.Fleet.Tests;

/// <summary>A real gateway host (Kestrel, gRPC, NATS client) on a free loopback port, and a real gRPC client to it.</summary>
public sealed class GatewayHarness : IAsyncDisposable
{
    private GatewayHarness(WebApplication app, GrpcChannel channel, MemoryLog log)
    {
        App = app;
        Log = log;
        Channel = channel;
        Client = new DetectionService.DetectionServiceClient(channel);
    }

    public WebApplication App { get; }
    public GrpcChannel Channel { get; }
    public DetectionService.DetectionServiceClient Client { get; }
    public string Address => SentinelServer.BoundAddresses(App.Services)[0];
    public AgentRegistry Agents => App.Services.GetRequiredService<AgentRegistry>();

    /// <summary>What the gateway logged (information and above), for failure messages.</summary>
    public MemoryLog Log { get; }

    public static async Task<GatewayHarness> StartAsync(string natsUrls, string stream = FleetOptions.DefaultStream, TimeSpan? silenceCheckPeriod = null,
        string? tlsCa = null, string? credsFile = null)
    {
        var log = new MemoryLog();
        var app = FleetGateway.Build(new GatewayOptions
        {
            Server = new ServerOptions { Listen = "127.0.0.1:0" },
            Fleet = new FleetOptions { Servers = FleetOptions.ParseServers(natsUrls), Stream = stream, TlsCaFile = tlsCa, CredsFile = credsFile },
            SilenceCheckPeriod = silenceCheckPeriod ?? TimeSpan.FromMilliseconds(100),
            ClientBatch = 16, // small, so reads cross many batches
        }, builder => builder.Logging.AddProvider(log));
        await app.StartAsync();
        var channel = GrpcChannel.ForAddress(SentinelServer.BoundAddresses(app.Services)[0]);
        return new GatewayHarness(app, channel, log);
    }

    /// <summary>Streams without follow to the end, or with follow until <paramref name="count"/> detections arrived.</summary>
    public async Task<List<Detection>> ReadAsync(StreamDetectionsRequest request, int? count = null, int timeoutSeconds = 60)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var result = new List<Detection>();
        using var call = Client.StreamDetections(request, cancellationToken: timeout.Token);
        try
        {
            await foreach (var d in call.ResponseStream.ReadAllAsync(timeout.Token))
            {
                result.Add(d);
                if (result.Count == count) break;
            }
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"got {result.Count} of {count} detections within {timeoutSeconds} s; gateway ready {Agents.Ready}, {Agents.Checks} checks, {Agents.RaisedCount} raised; it logged:\n{Log}");
        }
        return result;
    }

    public async Task<StatusCode> StatusOfAsync(StreamDetectionsRequest request)
    {
        try
        {
            await ReadAsync(request);
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>Publishes what agents publish (FLEET.md): Detection protobufs with Nats-Msg-Id, and Heartbeats.</summary>
public sealed class FakeAgents : IAsyncDisposable
{
    private readonly Dictionary<string, ulong> _sequences = [];

    private FakeAgents(NatsConnection nats)
    {
        Nats = nats;
        JetStream = new NatsJSContext(nats);
    }

    public NatsConnection Nats { get; }
    public NatsJSContext JetStream { get; }

    public static async Task<FakeAgents> ConnectAsync(string urls, string stream = FleetOptions.DefaultStream, int replicas = 1, long maxMsgs = -1)
    {
        var nats = new NatsConnection(new FleetOptions { Servers = FleetOptions.ParseServers(urls) }.ToNatsOpts("fake-agents"));
        await nats.ConnectAsync();
        var agents = new FakeAgents(nats);
        await agents.JetStream.CreateOrUpdateStreamAsync(new StreamConfig(stream, [FleetSubjects.AllDetections])
        {
            NumReplicas = replicas, Storage = StreamConfigStorage.File, DuplicateWindow = TimeSpan.FromMinutes(2), MaxMsgs = maxMsgs,
        });
        await agents.JetStream.CreateOrUpdateStreamAsync(new StreamConfig(GatewayOptions.HeartbeatStream, [FleetSubjects.AllHeartbeats])
        {
            NumReplicas = replicas, Storage = StreamConfigStorage.File, MaxMsgsPerSubject = 1,
        });
        return agents;
    }

    public static Detection Make(string host, ulong agentSequence, string rule = "SNT-0001", Severity severity = Severity.High) => new()
    {
        Sequence = agentSequence, AgentSequence = agentSequence, RuleId = rule, RuleName = "rule " + rule, RuleVersion = "1.0.0",
        Severity = severity, Time = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), Host = host, HostId = host,
        JournalId = "journal-" + host, Message = $"{rule} on {host} #{agentSequence}",
        Event = new Event { Name = "move_pages", Context = new ProcessContext { Pid = 4242, Comm = "probe" } },
    };

    /// <summary>The next detection of <paramref name="host"/>'s journal; returns its stream sequence.</summary>
    public async Task<ulong> PublishAsync(string host, string rule = "SNT-0001", Severity severity = Severity.High, string stream = FleetOptions.DefaultStream)
    {
        var seq = _sequences[host] = _sequences.GetValueOrDefault(host) + 1;
        var d = Make(host, seq, rule, severity);
        var ack = await JetStream.PublishAsync(FleetSubjects.Detections(host), d.ToByteArray(),
            headers: new NatsHeaders { ["Nats-Msg-Id"] = FleetSubjects.MessageId(d.JournalId, seq) });
        ack.EnsureSuccess();
        Assert.Equal(stream, ack.Stream);
        return ack.Seq;
    }

    public async Task<ulong> PublishRawAsync(string subject, byte[] payload)
    {
        var ack = await JetStream.PublishAsync(subject, payload);
        ack.EnsureSuccess();
        return ack.Seq;
    }

    public async Task HeartbeatAsync(string host, TimeSpan interval, bool stopping = false, string version = "1.0.0")
    {
        var hb = new Heartbeat
        {
            HostId = host, Version = version, Time = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), IntervalMs = (uint)interval.TotalMilliseconds,
            RulePackVersion = "dir", RulePackHash = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12",
            Strategy = AttachStrategy.Tracepoint, Counters = new Counters { LostInKernel = 7, EventsSeen = 100 }, JournalId = "journal-" + host,
            JournalLastSequence = 42, ExportAckedSequence = 40, ExportLostToRetention = 2,
            StartedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-1)), Stopping = stopping,
        };
        (await JetStream.PublishAsync(FleetSubjects.Heartbeat(host), hb.ToByteArray())).EnsureSuccess();
    }

    /// <summary>Heartbeats every <paramref name="interval"/> until cancelled, as an agent's publisher does.</summary>
    public async Task BeatAsync(string host, TimeSpan interval, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await HeartbeatAsync(host, interval);
                await Task.Delay(interval, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The stored messages on one subject, read straight from the stream.</summary>
    public async Task<List<Detection>> StoredAsync(string subject, string stream = FleetOptions.DefaultStream)
    {
        var result = new List<Detection>();
        // nats-server 2.9 ignores filter_subjects (plural, what ordered consumers send): one named filter_subject it is.
        var consumer = await JetStream.CreateOrUpdateConsumerAsync(stream, new ConsumerConfig
        {
            Name = "test-" + Guid.NewGuid().ToString("N"), FilterSubject = subject, AckPolicy = ConsumerConfigAckPolicy.None,
            InactiveThreshold = TimeSpan.FromSeconds(30),
        });
        await foreach (var m in consumer.FetchNoWaitAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = 10_000 }))
            result.Add(Detection.Parser.ParseFrom(m.Data));
        return result;
    }

    public ValueTask DisposeAsync() => Nats.DisposeAsync();
}

/// <summary>An in-memory logger provider: every line at information or above, thread-safe.</summary>
public sealed class MemoryLog : ILoggerProvider
{
    private readonly List<string> _lines = [];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public override string ToString()
    {
        lock (_lines) return string.Join("\n", _lines);
    }

    public void Dispose()
    {
    }

    private sealed class Logger(MemoryLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.Message)}";
            lock (log._lines) log._lines.Add(line);
        }
    }
}
