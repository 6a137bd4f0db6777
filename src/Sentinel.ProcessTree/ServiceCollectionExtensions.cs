using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sentinel.Events;

namespace Sentinel.ProcessTree;

public static class ProcessTreeServiceCollectionExtensions
{
    /// <summary>
    /// Registers the tree, its enricher (as <see cref="IEventEnricher"/>) and the live feeder (as a hosted service).
    /// Hosted services start in registration order: register this before the capture service, so the tree is
    /// attached and seeded before the first event.
    /// Without a host: <c>new ProcessTree(options)</c>, <c>new ProcessTreeService(tree)</c>,
    /// <c>new ProcessTreeEnricher(tree, service)</c>, and <c>service.StartAsync(...)</c> before the capture source starts.
    /// </summary>
    public static IServiceCollection AddSentinelProcessTree(this IServiceCollection services, Action<ProcessTreeOptions>? configure = null)
    {
        var options = new ProcessTreeOptions();
        configure?.Invoke(options);
        services.AddSingleton(options);
        services.AddSingleton(sp => new ProcessTree(sp.GetRequiredService<ProcessTreeOptions>()));
        services.AddSingleton(sp => new ProcessTreeEnricher(sp.GetRequiredService<ProcessTree>(), sp.GetRequiredService<ProcessTreeService>()));
        services.AddSingleton<IEventEnricher>(sp => sp.GetRequiredService<ProcessTreeEnricher>());
        services.AddSingleton<ProcessTreeService>();
        services.AddHostedService(sp => sp.GetRequiredService<ProcessTreeService>());
        return services;
    }
}
