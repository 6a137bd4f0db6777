using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Sentinel.Server;

namespace Sentinel.Fleet.Gateway;

/// <summary>Builds the gateway host: the agent's transport (listeners, TLS, auth, health, reflection) serving the fleet stream.</summary>
public static class FleetGateway
{
    /// <summary>Validates (throws <see cref="ServerConfigurationException"/> or <see cref="FleetConfigurationException"/>) and builds.</summary>
    public static WebApplication Build(GatewayOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        options.Validate();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        SentinelServer.ConfigureTransport(builder, options.Server);
        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<FleetConnection>();
        services.AddHostedService(sp => sp.GetRequiredService<FleetConnection>());
        services.AddSingleton<StreamDecoder>();
        services.AddSingleton<AgentRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<AgentRegistry>());
        services.AddHealthChecks().AddCheck<NatsHealthCheck>("nats");
        configure?.Invoke(builder);
        var app = builder.Build();
        SentinelServer.MapTransport(app);
        app.MapGrpcService<GatewayDetectionService>();
        return app;
    }
}

/// <summary>Serving while connected to NATS: a load balancer sends SIEMs to a gateway that can read the stream.</summary>
internal sealed class NatsHealthCheck(FleetConnection nats) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(nats.Connected ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("not connected to NATS"));
}
