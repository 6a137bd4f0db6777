using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Events;
using Sentinel.Server.Journal;
using Sentinel.Server.Streaming;
using Sentinel.V1;
using Detection = Sentinel.Events.Detection;
using Severity = Sentinel.Events.Severity;

namespace Sentinel.Server.Tests;

/// <summary>A real Kestrel server with a real journal in a temp dir, on a free loopback port.</summary>
public sealed class ServerHarness : IAsyncDisposable
{
    private long _serial;

    private ServerHarness(WebApplication app, ServerOptions options, TempDir dir)
    {
        App = app; Options = options; Dir = dir;
        Address = SentinelServer.BoundAddresses(app.Services)[0];
    }

    public WebApplication App { get; }
    public ServerOptions Options { get; }
    public TempDir Dir { get; }
    public string Address { get; }
    public DetectionJournal Journal => App.Services.GetRequiredService<DetectionJournal>();
    public EventBroadcaster Broadcaster => App.Services.GetRequiredService<EventBroadcaster>();

    public static async Task<ServerHarness> StartAsync(Action<ServerOptions>? configure = null,
        Action<WebApplicationBuilder>? services = null, TempDir? dir = null)
    {
        dir ??= new TempDir();
        var options = new ServerOptions { Listen = "127.0.0.1:0", JournalPath = Path.Combine(dir.Path, "journal.db") };
        configure?.Invoke(options);
        var app = SentinelServer.Build(options, builder =>
        {
            services?.Invoke(builder);
        });
        await app.StartAsync();
        return new ServerHarness(app, options, dir);
    }

    public GrpcChannel Channel(HttpMessageHandler? handler = null) =>
        GrpcChannel.ForAddress(Address.Replace("0.0.0.0", "127.0.0.1").Replace("[::]", "127.0.0.1"),
            new GrpcChannelOptions { HttpHandler = handler ?? new SocketsHttpHandler() });

    public DetectionService.DetectionServiceClient Client(HttpMessageHandler? handler = null) => new(Channel(handler));

    /// <summary>Feeds detections as the pipeline would (one thread) and waits until they are committed.</summary>
    public async Task<ulong> EmitAsync(int count, string rule = "SNT-0001", Severity severity = Severity.High)
    {
        var target = Journal.Range.Last + (ulong)count;
        for (var i = 0; i < count; i++) Journal.OnDetection(MakeDetection(rule, severity, Interlocked.Increment(ref _serial)));
        await WaitCommittedAsync(target);
        return target;
    }

    public async Task WaitCommittedAsync(ulong sequence)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (Journal.Range.Last < sequence) await Journal.WaitForCommitAsync(Journal.Range.Last, timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the journal did not commit up to {sequence} in 60 s: range {Journal.Range}, " +
                                       $"unsaved {Journal.UnsavedCount}, degraded: {Journal.DegradedReason ?? "no"}");
        }
    }

    public static Detection MakeDetection(string rule, Severity severity, long serial)
    {
        var evt = new MovePagesEvent
        {
            TimeUnixNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000, Pid = 4242, Tid = 4243, Ppid = 1,
            Comm = "probe", Flags = 4, ReturnValue = -1, TargetPid = 1, Count = 1,
        };
        return new Detection
        {
            Rule = new RuleInfo
            {
                Id = rule, Name = "Test rule " + rule, Version = "1.2.0", Severity = severity,
                MitreTactics = ["Privilege Escalation"], MitreTechniques = ["T1068"], Tags = ["test"],
            },
            Time = DateTimeOffset.UtcNow, Message = "detection " + serial, Event = evt,
            Fields = new Dictionary<string, string> { ["serial"] = serial.ToString() },
        };
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        Dir.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public sealed class TempDir : IDisposable
{
    // In memory where it can be: these tests are about order and delivery, and on a shared machine an fsync can
    // take seconds while other suites write (durability on a real disk is the Reliability suite's subject).
    public string Path { get; } = Directory.Exists("/dev/shm")
        ? Directory.CreateDirectory(System.IO.Path.Combine("/dev/shm", $"sentinel-server-{Guid.NewGuid():N}")).FullName
        : Directory.CreateTempSubdirectory("sentinel-server-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

public static class StreamExtensions
{
    /// <summary>Reads until the stream ends or <paramref name="count"/> messages arrived, within a generous bound.</summary>
    public static async Task<List<T>> ReadAsync<T>(this IAsyncStreamReader<T> stream, int count = int.MaxValue, int timeoutSeconds = 60)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var items = new List<T>();
        while (items.Count < count && await stream.MoveNext(timeout.Token)) items.Add(stream.Current);
        return items;
    }

    public static void AssertContiguous(this IReadOnlyList<V1.Detection> detections, ulong first, ulong last)
    {
        Assert.Equal((int)(last - first + 1), detections.Count);
        for (var i = 0; i < detections.Count; i++) Assert.Equal(first + (ulong)i, detections[i].Sequence);
    }
}
