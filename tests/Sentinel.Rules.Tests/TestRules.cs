using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Events;
using Sentinel.Rules.Compilation;

namespace Sentinel.Rules.Tests;

/// <summary>Writes throwaway rule files and builds events for tests.</summary>
internal sealed class RuleDirectory : IDisposable
{
    public RuleDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sentinel-rules-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Write(string fileName, string source)
    {
        var file = System.IO.Path.Combine(Path, fileName);
        // Write then rename, as editors do, so a watcher never sees half a file.
        var temp = file + ".tmp";
        File.WriteAllText(temp, source);
        File.Move(temp, file, overwrite: true);
        return file;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

internal static class TestRules
{
    /// <summary>No cache and a fixed host, so tests neither depend on nor touch the machine.</summary>
    public static RuleEngineOptions Options(string? cacheDirectory = null) => new()
    {
        UseCache = cacheDirectory is not null,
        CacheDirectory = cacheDirectory,
        Host = Sentinel.Rules.Testing.FixtureRunner.FixtureHost,
        ReloadDebounce = TimeSpan.FromMilliseconds(50),
        // Tests replay many events at one instant; the rate limit has its own tests.
        Output = Runtime.OutputLimits.Default with { DetectionsPerSecond = 1e9, Burst = int.MaxValue },
    };

    /// <summary>A complete rule file whose Match body is <paramref name="match"/>.</summary>
    public static string Rule(string id, string match, string members = "", string usings = "") => $$"""
        {{usings}}
        public sealed class TestRule : Rule
        {
            {{members}}
            public override RuleInfo Info { get; } = new()
            {
                Id = "{{id}}", Version = "1.0.0", Name = "test {{id}}", Description = "a test rule",
                Severity = Severity.Low, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Events = ["move_pages"],
            };

            public override void Match(MovePagesEvent e, Findings findings)
            {
                {{match}}
            }
        }
        """;


    /// <summary>
    /// <paramref name="stuck"/> rules first in file order (SNT-9901, then SNT-9911, SNT-9921...): on its first
    /// evaluation each runs one HashSet constructor over 400,000 distinct keys whose hashes all collide (minutes inside
    /// one framework call); then SNT-9902, which fires "seen PID" on every event.
    /// </summary>
    public static void WriteStuckThenEvery(RuleDirectory dir, int stuck = 1)
    {
        for (var n = 0; n < stuck; n++)
        {
            dir.Write($"a-hostile-{n}.csx", Rule($"SNT-99{n}1", """
                var keys = new List<long>();
                for (long i = 0; i < 400_000; i++) keys.Add(i * 0x1_0000_0001L);
                if (new HashSet<long>(keys).Count < 0) findings.Add("never");
                """));
        }
        dir.Write("b-every.csx", Rule("SNT-9902", """findings.Add("seen " + e.Pid);"""));
    }

    public static RuleEngine Load(string path, RuleEngineOptions? options = null) =>
        RuleEngine.Load(path, options ?? Options(), NullLogger.Instance);

    public static RuleCompilation Compile(string source, string file = "/rules/test.csx") =>
        new RuleCompiler().Compile(file, source);

    public static MovePagesEvent Event(int pid = 100, int target = 0, long ret = 0, int flags = 2, long timeSeconds = 0)
    {
        var evt = new MovePagesEvent
        {
            Pid = pid, Tid = pid, Comm = "test", TargetPid = target, ReturnValue = ret, Flags = flags,
            Count = 1, PagesAddress = 0x1000, NodesAddress = 0x2000, StatusAddress = 0x3000,
            TimeUnixNs = 1_772_359_200_000_000_000 + timeSeconds * 1_000_000_000,
            MountNamespace = 4026531840, PidNamespace = 4026531836,
        };
        return evt;
    }
}

/// <summary>Collects detections.</summary>
internal sealed class ListSink : IDetectionSink
{
    public List<Detection> Detections { get; } = [];
    public void OnDetection(Detection detection) => Detections.Add(detection);
}
