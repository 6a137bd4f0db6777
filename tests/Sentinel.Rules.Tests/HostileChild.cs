using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Rules.Testing;

namespace Sentinel.Rules.Tests;

/// <summary>
/// The child process of the hostile-rule catalogue: `dotnet Sentinel.Rules.Tests.dll hostile-child RULES_DIR
/// EVENTS CACHE_DIR [RELOAD_FILE VARIANTS_DIR]` loads the rules, replays synthetic events (meanwhile rewriting RELOAD_FILE
/// with each file of VARIANTS_DIR in turn and reloading, in a loop), and prints one JSON report: its peak RSS, every detection of the
/// built-in pack in order, and the state of the other rules. A process per case keeps each RSS figure its own.
/// </summary>
public static class HostileChild
{
    public const string Verb = "hostile-child";

    public static int Main(string[] args)
    {
        if (args.Length < 3 || args[0] != Verb)
        {
            Console.Error.WriteLine($"usage: {Verb} RULES_DIR EVENTS CACHE_DIR [RELOAD_FILE VARIANTS_DIR]");
            return 2;
        }
        var (rulesDir, events, cache, reloadFile) = (args[1], int.Parse(args[2]), args[3], args.Length > 5 ? args[4] : null);
        var options = new RuleEngineOptions { UseCache = true, CacheDirectory = cache, Host = FixtureRunner.FixtureHost };
        var clock = Stopwatch.StartNew();
        using var engine = RuleEngine.Load(rulesDir, options, NullLogger.Instance);
        var sink = new ReportSink();
        var reloads = 0;
        using var stop = new CancellationTokenSource();
        Task? reloader = null;
        if (reloadFile is not null)
        {
            // Rewrites the file with its variants (FILE.1, FILE.2, ...) and reloads, as fast as it can, while the
            // replay runs: a hostile author editing in a loop.
            var variants = Directory.GetFiles(args[5]).Order().ToArray();
            reloader = Task.Run(() =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    File.Copy(variants[i % variants.Length], reloadFile, overwrite: true);
                    engine.Reload();
                    Interlocked.Increment(ref reloads);
                }
            });
        }
        var pool = HostileEvents.Generate(events);
        var next = 0;
        // As the agent's pipeline evaluates: under the guard, so a rule's first call that never returns is stopped
        // too; after a stop the body runs again and goes on from the next event.
        engine.RunGuarded(() =>
        {
            while (next < pool.Length)
            {
                var i = next++;
                // A reload is only adopted between events; hold the replay until a few have landed.
                if (reloader is not null && i == pool.Length / 2)
                    SpinWait.SpinUntil(() => Volatile.Read(ref reloads) >= 10 || reloader.IsCompleted, TimeSpan.FromMinutes(2));
                sink.Index = i;
                engine.Evaluate(pool[i], sink);
            }
        });
        stop.Cancel();
        reloader?.GetAwaiter().GetResult();

        var report = new HostileReport
        {
            PeakRssKb = PeakRssKb(),
            ElapsedMs = clock.ElapsedMilliseconds,
            Reloads = reloads,
            PackDetections = sink.Pack,
            Other = [.. engine.Status().Where(s => !IsPack(s.Id)).Select(s => new HostileRuleState
            {
                Id = s.Id, Quarantined = s.Quarantined, Reason = s.QuarantineReason ?? s.LastError, Errors = s.Errors,
                Evaluations = s.Evaluations, RateLimited = s.RateLimited,
                Detections = sink.Other(s.Id).Detections, LongestMessage = sink.Other(s.Id).LongestMessage,
                MostFields = sink.Other(s.Id).MostFields,
            })],
            Diagnostics = [.. engine.Diagnostics.Where(d => d.IsError).Select(d => d.ToString())],
        };
        Console.Out.Write(JsonSerializer.Serialize(report));
        return 0;
    }

    public static bool IsPack(string id) => id.StartsWith("SNT-000", StringComparison.Ordinal);

    private static long PeakRssKb() =>
        File.ReadLines("/proc/self/status").Where(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1])).Single();

    private sealed class ReportSink : IDetectionSink
    {
        public int Index;
        public List<string> Pack { get; } = [];
        private readonly Dictionary<string, HostileRuleState> _others = [];

        public HostileRuleState Other(string id) => _others.GetValueOrDefault(id) ?? new HostileRuleState();

        public void OnDetection(Detection d)
        {
            if (IsPack(d.Rule.Id))
            {
                Pack.Add($"{Index} {d.Rule.Id} {d.Message} {string.Join(",", d.Fields.Select(f => f.Key + "=" + f.Value))}");
                return;
            }
            var seen = Other(d.Rule.Id);
            _others[d.Rule.Id] = seen with
            {
                Detections = seen.Detections + 1,
                LongestMessage = Math.Max(seen.LongestMessage, d.Message.Length),
                MostFields = Math.Max(seen.MostFields, d.Fields.Count),
            };
        }
    }
}

public sealed record HostileReport
{
    public long PeakRssKb { get; init; }
    public long ElapsedMs { get; init; }
    public int Reloads { get; init; }
    public List<string> PackDetections { get; init; } = [];
    public List<HostileRuleState> Other { get; init; } = [];
    public List<string> Diagnostics { get; init; } = [];
}

public sealed record HostileRuleState
{
    public string Id { get; init; } = "";
    public bool Quarantined { get; init; }
    public string? Reason { get; init; }
    public long Errors { get; init; }
    public long Evaluations { get; init; }
    public long RateLimited { get; init; }
    public long Detections { get; init; }
    public int LongestMessage { get; init; }
    public int MostFields { get; init; }
}

/// <summary>
/// Synthetic move_pages calls on which most of the built-in pack fires: cross-process moves, ESRCH scans,
/// MOVE_ALL without CAP_SYS_NICE, 32-bit calls, out-of-range nodes, calls from another namespace; 1 ms apart.
/// </summary>
public static class HostileEvents
{
    public static MovePagesEvent[] Generate(int count)
    {
        var events = new MovePagesEvent[count];
        for (var i = 0; i < count; i++)
        {
            var kind = i % 7;
            var pid = 2000 + i % 37;
            var e = new MovePagesEvent
            {
                Pid = pid, Tid = pid, Comm = "proc" + i % 37, Uid = 1000, Count = 2,
                TargetPid = kind is 1 or 2 ? 3000 + i % 11 : 0,
                ReturnValue = kind == 2 ? -3 : 0, // ESRCH
                Flags = kind == 3 ? (int)MoveFlags.MoveAll : (int)MoveFlags.Move,
                Compat = kind == 4,
                PagesAddress = 0x1000, NodesAddress = 0x2000, StatusAddress = 0x3000,
                TimeUnixNs = 1_772_359_200_000_000_000L + i * 1_000_000L,
                MountNamespace = kind == 5 ? 4026532000 : 4026531840, PidNamespace = 4026531836,
                CopiedCount = 2, Copies = CopyFlags.NodesAtEntry,
            };
            e.NodesAtEntryBuffer[0] = 0;
            e.NodesAtEntryBuffer[1] = kind == 6 ? 9 : 1;
            events[i] = e;
        }
        return events;
    }
}
