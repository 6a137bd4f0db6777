using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Sentinel.Events;
using Sentinel.Server;
using Sentinel.Server.Journal;
using Sentinel.V1;
using Detection = Sentinel.Events.Detection;
using Severity = Sentinel.Events.Severity;

namespace Sentinel.Benchmarks.Server;

/// <summary>A real server on loopback with its journal on disk (not tmpfs, so fsync costs what it costs).</summary>
internal sealed class DeliveryHarness : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sentinel-bench-").FullName;

    /// <param name="committedSink">An after-commit sink (a printer), registered before the server starts.</param>
    public DeliveryHarness(JournalSync sync, IDetectionSink? committedSink = null)
    {
        var options = new ServerOptions
        {
            Listen = "127.0.0.1:0", JournalPath = Path.Combine(_dir, "journal.db"), JournalSync = sync,
            RetentionBytes = null, RetentionAge = null,
        };
        App = SentinelServer.Build(options);
        Journal = App.Services.GetRequiredService<DetectionJournal>();
        if (committedSink is not null) Journal.AddCommittedSink(committedSink);
        App.StartAsync().GetAwaiter().GetResult();
        Address = SentinelServer.BoundAddresses(App.Services)[0];
    }

    public WebApplication App { get; }
    public string Address { get; }
    public DetectionJournal Journal { get; }

    public DetectionService.DetectionServiceClient NewClient() => new(GrpcChannel.ForAddress(Address));

    /// <summary>A detection the size of a real one: a full event, rule metadata and two fields.</summary>
    public static Detection Sample(long serial)
    {
        var evt = new MovePagesEvent
        {
            TimeUnixNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000, Pid = 4242, Tid = 4243, Ppid = 1, Uid = 1000,
            Comm = "exploit", Flags = 4, ReturnValue = -1, TargetPid = 1, Count = 16, CopiedCount = 16,
            Copies = CopyFlags.PagesAtEntry | CopyFlags.PagesAtExit | CopyFlags.StatusAtExit,
        };
        for (var i = 0; i < 16; i++) evt.PagesAtEntryBuffer[i] = evt.PagesAtExitBuffer[i] = 0x7f00_0000_0000UL + (ulong)(i * 4096);
        return new Detection
        {
            Rule = Rule, Time = DateTimeOffset.UtcNow, Message = "MOVE_ALL without CAP_SYS_NICE against pid 1", Event = evt,
            Fields = new Dictionary<string, string> { ["serial"] = serial.ToString(), ["target"] = "systemd" },
        };
    }

    private static readonly RuleInfo Rule = new()
    {
        Id = "SNT-0002", Name = "MOVE_ALL probing", Version = "1.0.0", Severity = Severity.High,
        MitreTactics = ["Discovery"], MitreTechniques = ["T1057"], Tags = ["numa"],
    };

    /// <summary>Emits <paramref name="count"/> detections as the pipeline would and waits until all are committed.</summary>
    public async Task EmitAndCommitAsync(int count)
    {
        var target = Journal.Range.Last + (ulong)count;
        for (var i = 0; i < count; i++) Journal.OnDetection(Sample(i));
        while (Journal.Range.Last < target) await Journal.WaitForCommitAsync(Journal.Range.Last, CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}

/// <summary>A follower that counts what it receives, so a benchmark can wait for a sequence.</summary>
internal sealed class CountingFollower : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reading;
    private long _last;

    public CountingFollower(DetectionService.DetectionServiceClient client, ulong after, Action<Sentinel.V1.Detection>? onDetection = null)
    {
        var call = client.StreamDetections(new StreamDetectionsRequest { AfterSequence = after, Follow = true }, cancellationToken: _stop.Token);
        _reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var d in call.ResponseStream.ReadAllAsync(_stop.Token))
                {
                    onDetection?.Invoke(d);
                    Volatile.Write(ref _last, (long)d.Sequence);
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested) { }
            catch (RpcException) when (_stop.IsCancellationRequested) { }
        });
    }

    public ulong Last => (ulong)Volatile.Read(ref _last);

    public void WaitFor(ulong sequence)
    {
        var spin = new SpinWait();
        while (Last < sequence)
        {
            if (_reading.IsCompleted) throw new InvalidOperationException("follower stopped");
            spin.SpinOnce();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _reading.Wait(5000); } catch (AggregateException) { }
    }
}
