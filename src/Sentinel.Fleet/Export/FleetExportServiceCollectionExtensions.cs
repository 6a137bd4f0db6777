using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Sentinel.Fleet.Liveness;
using Sentinel.Server;

namespace Sentinel.Fleet.Export;

public static class FleetExportServiceCollectionExtensions
{
    /// <summary>
    /// Adds the journal exporter and the heartbeat publisher to an agent host that already has the server's journal
    /// (call right after SentinelServer.ConfigureServices, so both stop after capture and the pipeline, and before the
    /// journal). <paramref name="rulesPath"/>: a `--rules DIR` agent's pack, reported in heartbeats unless another
    /// <see cref="IRulePackInfo"/> is registered. Throws <see cref="FleetConfigurationException"/> on bad options.
    /// </summary>
    public static IServiceCollection AddSentinelFleetExport(this IServiceCollection services, FleetOptions fleet, ExportOptions export, string? rulesPath = null)
    {
        fleet.Validate();
        export.Validate();
        services.TryAddSingleton(fleet);
        services.AddSingleton(export);
        services.AddSingleton(sp => new FleetConnection(fleet, export, sp.GetService<Microsoft.Extensions.Logging.ILogger<FleetConnection>>()));
        services.AddSingleton<JournalExporter>();
        services.AddHostedService(sp => sp.GetRequiredService<JournalExporter>());
        services.AddSingleton<IAgentStatusContributor>(sp => sp.GetRequiredService<JournalExporter>());
        if (rulesPath is not null) services.TryAddSingleton<IRulePackInfo>(new DirectoryRulePackInfo(rulesPath));
        // Registered after the exporter so it stops first: the stopping heartbeat carries the last cursor.
        services.AddSingleton<HeartbeatPublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<HeartbeatPublisher>());
        return services;
    }
}
