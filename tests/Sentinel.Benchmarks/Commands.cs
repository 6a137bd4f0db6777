namespace Sentinel.Benchmarks;

/// <summary>Benchmarks that are not BenchmarkDotNet classes (live kernel measurements), by name.</summary>
internal static class Commands
{
    private static readonly Dictionary<string, Func<string[], int>> ByName = new(StringComparer.Ordinal)
    {
        ["probe-overhead"] = Capture.ProbeOverhead.Run,
        ["capture-cost"] = Capture.CaptureCost.Run,
        ["capture-flood"] = Capture.FloodBenchmark.Run,
        ["event-pool"] = Capture.EventPoolHandOff.Run,
        ["proctree-memory"] = ProcessTree.ProcessTreeCommands.Memory,
        ["proctree-forkstorm"] = ProcessTree.ProcessTreeCommands.ForkStorm,
        ["export-rate"] = Fleet.ExportCommands.ExportRate,
        ["fleet-load"] = Fleet.ExportCommands.FleetLoad,
        ["fleet-gateway"] = Fleet.GatewayBenchmarks.Run,
        ["response-overhead"] = Response.ResponseOverhead.Run,
        ["slow-clients"] = Server.SlowClientBenchmark.Run,
        ["journal-profile"] = Server.JournalProfile.Run,
        ["delivery-rate"] = Server.DeliveryRate.Run,
        ["journal-capacity"] = Server.JournalCapacity.Run,
        ["journal-capacity-follower"] = Server.JournalCapacity.Follow,
        ["rule-pack-loop"] = Rules.RulePackLoop.Run,
        ["rules-authoring"] = Rules.RuleAuthoringCommands.Run,
    };

    public static bool TryRun(string[] args, out int exitCode)
    {
        exitCode = 0;
        if (!ByName.TryGetValue(args[0], out var run)) return false;
        exitCode = run(args[1..]);
        return true;
    }
}
