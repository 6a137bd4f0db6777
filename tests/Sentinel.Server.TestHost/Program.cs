// The agent as a child process, so tests can SIGKILL it for real. It runs the real server, journal and pipeline;
// only the capture source is replaced by commands on stdin:
//   emit N RULE SEVERITY   N events, each firing one detection of RULE at SEVERITY (1-5); answers "ok LAST"
//   status                 answers "status JSON" (GetStatus as JSON on one line)
//   prune                  runs journal retention now; answers "pruned TOTAL"
//   quit                   stops gracefully
// With --nats URL[,URL...] it exports to NATS JetStream and publishes heartbeats exactly as `sentinel run --nats` does.
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sentinel.Pipeline;
using Sentinel.Events;
using Sentinel.Server;
using Sentinel.Fleet;
using Sentinel.Fleet.Export;
using Sentinel.Server.Journal;

var options = new ServerOptions { Listen = "127.0.0.1:0" };
string? nats = null, stream = null, tlsCa = null, creds = null;
var export = new ExportOptions();
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--listen": options.Listen = args[i + 1]; break;
        case "--journal": options.JournalPath = args[i + 1]; break;
        case "--metrics": options.MetricsListen = args[i + 1]; break;
        case "--sync": options.JournalSync = Enum.Parse<JournalSync>(args[i + 1], ignoreCase: true); break;
        case "--host-id": options.HostId = args[i + 1]; break;
        case "--retention-bytes": options.RetentionBytes = long.Parse(args[i + 1]); break;
        case "--nats": nats = args[i + 1]; break;
        case "--nats-stream": stream = args[i + 1]; break;
        case "--nats-tls-ca": tlsCa = args[i + 1]; break;
        case "--nats-creds": creds = args[i + 1]; break;
        case "--nats-replicas": export = export with { Replicas = int.Parse(args[i + 1]) }; break;
        case "--heartbeat-interval": export = export with { HeartbeatInterval = TimeSpan.FromSeconds(double.Parse(args[i + 1])) }; break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
    }
}

var app = SentinelServer.Build(options, builder =>
{
    // Logs go to stderr: stdout carries the answers to the commands.
    builder.Logging.AddSimpleConsole(o => o.SingleLine = true).AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Warning);
    builder.Services.AddSingleton<IDetector, SyntheticDetector>();
    if (nats is not null)
        builder.Services.AddSentinelFleetExport(
            new FleetOptions { Servers = FleetOptions.ParseServers(nats), Stream = stream ?? FleetOptions.DefaultStream, TlsCaFile = tlsCa, CredsFile = creds }, export);
    builder.Services.AddSentinelPipeline();
});
await app.StartAsync();
var channel = app.Services.GetRequiredService<EventChannel>();
var address = SentinelServer.BoundAddresses(app.Services)[0];
var journal = app.Services.GetRequiredService<DetectionJournal>();
Console.WriteLine($"listening {address} last {journal.Range.Last}");

long serial = 0;
while (Console.ReadLine() is { } line)
{
    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    if (parts is ["quit"]) break;
    if (parts is ["status"])
    {
        var status = app.Services.GetRequiredService<AgentStatusBuilder>().Build();
        Console.WriteLine("status " + JsonFormatter.Default.Format(status));
        continue;
    }
    if (parts is ["prune"])
    {
        journal.Prune(DateTimeOffset.UtcNow);
        Console.WriteLine($"pruned {journal.Pruned}");
        continue;
    }
    if (parts is not ["emit", var countText, var rule, var severityText]) { Console.WriteLine("error: bad command"); continue; }
    var count = int.Parse(countText);
    var target = journal.Range.Last + (ulong)count;
    for (var i = 0; i < count; i++)
    {
        var evt = channel.Pool.Rent();
        evt.TimeUnixNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000;
        evt.Pid = Environment.ProcessId;
        evt.Tid = (int)++serial;
        evt.Comm = $"{rule}:{severityText}";
        evt.Flags = 4;
        evt.ReturnValue = -1;
        await channel.Channel.Writer.WriteAsync(evt);
    }
    while (journal.Range.Last < target) await journal.WaitForCommitAsync(journal.Range.Last, CancellationToken.None);
    Console.WriteLine($"ok {journal.Range.Last}");
}
channel.Channel.Writer.TryComplete();
await app.StopAsync();
return 0;

/// <summary>Fires one detection per event, with the rule and severity the event's comm names.</summary>
sealed class SyntheticDetector : IDetector
{
    public void Evaluate(MovePagesEvent evt, IDetectionSink sink)
    {
        var colon = evt.Comm.LastIndexOf(':');
        var rule = new RuleInfo
        {
            Id = evt.Comm[..colon], Version = "1.0.0", Name = "Synthetic " + evt.Comm[..colon],
            Severity = (Severity)int.Parse(evt.Comm[(colon + 1)..]), MitreTactics = ["Privilege Escalation"],
            MitreTechniques = ["T1068"], Tags = ["test"],
        };
        sink.OnDetection(new Detection
        {
            Rule = rule, Time = evt.Time, Message = $"synthetic detection {evt.Tid}", Event = evt.Clone(),
            Fields = new Dictionary<string, string> { ["serial"] = evt.Tid.ToString() },
        });
    }
}
