using System.Diagnostics;
using System.Text.Json;
using Sentinel.Simulate;
using Sentinel.TestSupport;
using Xunit.Abstractions;

namespace Sentinel.Simulate.Tests;

/// <summary>One agent for all end-to-end tests: starting it (probes, rule compilation) is the slow part.</summary>
public sealed class AgentFixture : IDisposable
{
    private readonly Lazy<LiveAgent> _agent = new(() => new LiveAgent());
    public LiveAgent Agent => _agent.Value;
    public void Dispose()
    {
        if (_agent.IsValueCreated) _agent.Value.Dispose();
    }
}

[CollectionDefinition(nameof(EndToEndTests), DisableParallelization = true)]
public sealed class EndToEndCollection : ICollectionFixture<AgentFixture>;

/// <summary>
/// The agent attached with the built-in rules; `sentinel simulate X` runs; exactly X's rules fire, with the
/// caller, target, ancestry and flags the process tree should give them.
/// </summary>
[Collection(nameof(EndToEndTests))]
public sealed class EndToEndTests(AgentFixture fixture, ITestOutputHelper output)
{

    private sealed record Outcome(ScenarioResult Result, int SimulatePid, List<JsonElement> Detections)
    {
        public JsonElement First(string ruleId) => Detections.First(d => d.GetProperty("ruleId").GetString() == ruleId);
    }

    private Outcome Simulate(string scenario)
    {
        var agent = fixture.Agent;
        var seen = agent.Detections.Count;
        using var sim = SentinelProcess.Start("simulate", scenario, "--json");
        var exit = sim.WaitForExit(TimeSpan.FromSeconds(120));
        Assert.True(exit == 0, $"sentinel simulate {scenario} exited {exit}: {sim.Stderr}");
        var result = ScenarioResult.FromJson(sim.Stdout.Trim())!;

        // Ours: made by the simulate process or a descendant (helpers, unshare's child).
        bool Ours(JsonElement d) => CallerPid(d) == sim.Id || Int(Context(d), "ppid") == sim.Id ||
                                    Ancestry(d).Any(a => Int(a, "pid") == sim.Id);
        List<JsonElement> Mine() => agent.Detections.Skip(seen).Where(Ours).ToList();

        // Every call of the scenario was made before the marker, so its detections are all out once the marker is.
        agent.WaitForMarker();

        var detections = Mine();
        foreach (var d in detections) output.WriteLine(d.GetRawText());
        if (detections.Count == 0) output.WriteLine("agent stderr:\n" + agent.Stderr);
        Assert.Equal(result.ExpectedRules.Order(), detections.Select(RuleId).Distinct().Order());
        return new Outcome(result, sim.Id, detections);
    }

    [LiveFact]
    public void Cross_process()
    {
        var o = Simulate("cross-process");
        var e = Enrichment(o.First(RuleIds.CrossProcess));
        AssertCaller(e, o.SimulatePid, "sentinel");
        Assert.Equal(Environment.ProcessId, Int(Ancestry(e)[0], "pid")); // simulate's parent: this test
        Assert.Equal(o.Result.TargetPid, Int(e.GetProperty("target"), "pid"));
        Assert.Equal("sleep", Str(e.GetProperty("target"), "comm"));
        Assert.True(Bool(e, "isCrossProcess"));
        Assert.False(Bool(e, "isCrossUser"));
        Assert.False(Bool(e, "isCrossContainer"));
        Assert.True(Bool(e, "callerInHostNamespaces"));
    }

    [LiveFact]
    public void Move_all_unprivileged()
    {
        var o = Simulate("move-all-unprivileged");
        var e = Enrichment(o.First(RuleIds.MoveAllUnprivileged));
        AssertCaller(e, o.Result.CallerPid, "move_pages64");
        Assert.Equal(SimulationContext.Nobody, (uint)Int(e.GetProperty("caller"), "uid"));
        Assert.Equal(o.SimulatePid, Int(Ancestry(e)[0], "pid"));
        Assert.False(Bool(e, "isCrossProcess"));
    }

    [LiveFact]
    public void Cross_user_probe()
    {
        var o = Simulate("cross-user-probe");
        var e = Enrichment(o.First(RuleIds.QueryModeProbe));
        AssertCaller(e, o.SimulatePid, "sentinel");
        var target = e.GetProperty("target");
        Assert.Equal(o.Result.TargetPid, Int(target, "pid"));
        Assert.Equal(SimulationContext.Nobody, (uint)Int(target, "uid"));
        Assert.True(Bool(e, "isCrossProcess"));
        Assert.True(Bool(e, "isCrossUser"));
    }

    [LiveFact]
    public void Toctou()
    {
        var o = Simulate("toctou");
        var e = Enrichment(o.First(RuleIds.Toctou));
        AssertCaller(e, o.SimulatePid, "sentinel");
        Assert.False(Bool(e, "isCrossProcess"));
        Assert.Equal(o.SimulatePid, Int(e.GetProperty("target"), "pid"));
    }

    [LiveFact]
    public void Burst()
    {
        var o = Simulate("burst");
        var e = Enrichment(o.First(RuleIds.FailureBurst));
        AssertCaller(e, o.SimulatePid, "sentinel");
        Assert.True(Bool(e, "isCrossProcess"));
        Assert.False(e.TryGetProperty("target", out _)); // no process has that pid
    }

    [LiveFact]
    public void Container()
    {
        var o = Simulate("container");
        var e = Enrichment(o.First(RuleIds.Container));
        Assert.Equal("move_pages64", Str(e.GetProperty("caller"), "comm"));
        Assert.False(Bool(e, "callerInHostNamespaces"));
        // move_pages64 ← unshare (its --fork parent) ← sentinel simulate
        Assert.Equal("unshare", Str(Ancestry(e)[0], "comm"));
        Assert.Equal(o.SimulatePid, Int(Ancestry(e)[1], "pid"));
    }

    [LiveFact]
    public void Compat()
    {
        var o = Simulate("compat");
        var e = Enrichment(o.First(RuleIds.Compat));
        AssertCaller(e, o.Result.CallerPid, "move_pages32");
        Assert.Equal(o.SimulatePid, Int(Ancestry(e)[0], "pid"));
    }

    [LiveFact]
    public void Bad_node()
    {
        var o = Simulate("bad-node");
        AssertCaller(Enrichment(o.First(RuleIds.BadNode)), o.SimulatePid, "sentinel");
    }

    [LiveFact]
    public void Benign_fires_nothing() => Assert.Empty(Simulate("benign").Detections);

    // ---- the protobuf JSON mapping omits defaults (false, 0, empty), so absent means default ----

    private static void AssertCaller(JsonElement enrichment, int pid, string comm)
    {
        var caller = enrichment.GetProperty("caller");
        Assert.Equal(pid, Int(caller, "pid"));
        Assert.Equal(comm, Str(caller, "comm"));
        Assert.False(string.IsNullOrEmpty(Str(caller, "entityId")));
    }

    private static string? RuleId(JsonElement d) => d.GetProperty("ruleId").GetString();
    private static JsonElement Event(JsonElement d) => d.GetProperty("event");
    private static JsonElement Context(JsonElement d) => Event(d).GetProperty("context");
    private static JsonElement Enrichment(JsonElement d) => Event(d).TryGetProperty("enrichment", out var e) ? e
        : throw new Xunit.Sdk.XunitException("detection has no enrichment: " + d.GetRawText());
    private static long CallerPid(JsonElement d) => Int(Context(d), "pid");

    private static IReadOnlyList<JsonElement> Ancestry(JsonElement enrichmentOrDetection)
    {
        var e = enrichmentOrDetection.TryGetProperty("ruleId", out _)
            ? (Event(enrichmentOrDetection).TryGetProperty("enrichment", out var en) ? en : default)
            : enrichmentOrDetection;
        return e.ValueKind == JsonValueKind.Object && e.TryGetProperty("ancestry", out var a) ? a.EnumerateArray().ToList() : [];
    }

    private static long Int(JsonElement o, string name) => o.TryGetProperty(name, out var v)
        ? v.ValueKind == JsonValueKind.String ? long.Parse(v.GetString()!) : v.GetInt64()
        : 0;

    private static string Str(JsonElement o, string name) => o.TryGetProperty(name, out var v) ? v.GetString() ?? "" : "";
    private static bool Bool(JsonElement o, string name) => o.TryGetProperty(name, out var v) && v.GetBoolean();
}
