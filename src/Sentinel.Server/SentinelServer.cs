using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Hosting.Server;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Prometheus;
using Sentinel.Events;
using Sentinel.Server.Auth;
using Sentinel.Server.Journal;
using Sentinel.Server.Streaming;

namespace Sentinel.Server;

/// <summary>
/// Wires the gRPC server into a WebApplication host: <see cref="ConfigureServices"/> on the builder, then
/// <see cref="MapEndpoints"/> on the built app. `sentinel run` adds the capture pipeline to the same host; the
/// journal is an <see cref="IDetectionSink"/> and the broadcaster an <see cref="IEventObserver"/> in DI.
/// </summary>
public static class SentinelServer
{
    private const string MetricsConnectionKey = "sentinel.metrics";

    /// <summary>Validates <paramref name="options"/> (throws <see cref="ServerConfigurationException"/>) and registers everything.</summary>
    public static void ConfigureServices(WebApplicationBuilder builder, ServerOptions options)
    {
        ConfigureTransport(builder, options);
        var services = builder.Services;
        services.AddSingleton<SentinelMetrics>();
        services.AddSingleton<DetectionJournal>();
        services.AddSingleton<IDetectionSink>(sp => sp.GetRequiredService<DetectionJournal>());
        // Started first among ours and stopped last: the journal commits what the pipeline drains at shutdown.
        services.AddHostedService(sp => sp.GetRequiredService<DetectionJournal>());
        services.AddSingleton<EventBroadcaster>();
        services.AddSingleton<IEventObserver>(sp => sp.GetRequiredService<EventBroadcaster>());
        services.AddSingleton<IAgentStatusContributor, JournalStatusContributor>();
        services.AddSingleton<IAgentStatusContributor, PipelineStatusContributor>();
        services.AddHealthChecks().AddCheck<JournalHealthCheck>("journal");
    }

    /// <summary>
    /// The transport shared by the agent and the fleet gateway: the listeners (TCP or unix socket, TLS, the
    /// metrics listener), client authentication, gRPC with health and reflection, the stream client registry and
    /// the status builder. No journal: whoever serves DetectionService registers its own data.
    /// </summary>
    public static void ConfigureTransport(WebApplicationBuilder builder, ServerOptions options)
    {
        options.Validate();
        var listen = ListenAddress.Parse(options.Listen);
        var metricsListen = options.MetricsListen is null ? null : ListenAddress.Parse(options.MetricsListen);
        var certificate = options.UsesTls ? LoadCertificate(options) : null;
        var authenticator = new ClientAuthenticator(options);

        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            Listen(kestrel, listen, lo =>
            {
                if (certificate is null)
                {
                    lo.Protocols = HttpProtocols.Http2; // cleartext gRPC needs prior-knowledge HTTP/2
                    return;
                }
                lo.Protocols = HttpProtocols.Http1AndHttp2;
                lo.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = certificate,
                    // Allow, not require: a client without a certificate may still use the token, and one with neither
                    // gets UNAUTHENTICATED from the interceptor instead of a bare TLS failure.
                    ClientCertificateMode = options.ClientCaPath is null ? ClientCertificateMode.NoCertificate : ClientCertificateMode.AllowCertificate,
                    ClientCertificateValidation = (_, _, _) => true, // the interceptor checks the chain against the client CA
                });
            });
            if (metricsListen is not null)
                Listen(kestrel, metricsListen, lo =>
                {
                    lo.Protocols = HttpProtocols.Http1;
                    lo.Use(next => connection =>
                    {
                        connection.Items[MetricsConnectionKey] = true;
                        return next(connection);
                    });
                });
        });

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(authenticator);
        services.AddSingleton<StreamClientRegistry>();
        services.AddSingleton<AgentStatusBuilder>();
        services.AddSingleton<IAgentStatusContributor>(sp => sp.GetRequiredService<StreamClientRegistry>());

        services.AddGrpc(o =>
        {
            o.Interceptors.Add<AuthInterceptor>();
            o.EnableDetailedErrors = false;
            o.MaxReceiveMessageSize = 4 * 1024 * 1024;
        });
        services.TryAddSingleton<AuthInterceptor>();
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks();
        if (listen.SocketPath is { } socket)
            services.AddHostedService(sp => new UnixSocketPermissions(socket, sp.GetRequiredService<IHostApplicationLifetime>()));
    }

    public static void MapEndpoints(WebApplication app)
    {
        var metrics = app.Services.GetRequiredService<SentinelMetrics>();
        metrics.Attach(app.Services);
        MapTransport(app);
        app.MapGrpcService<DetectionGrpcService>();
        app.MapMetrics("/metrics", metrics.Registry);
    }

    /// <summary>The endpoints of <see cref="ConfigureTransport"/>: the listener split, health and reflection.</summary>
    public static void MapTransport(WebApplication app)
    {
        // /metrics is served on the metrics listener only, and nothing else is.
        app.Use((context, next) =>
        {
            var onMetricsListener = context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(MetricsConnectionKey) == true;
            if (onMetricsListener != context.Request.Path.StartsWithSegments("/metrics"))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            return next(context);
        });
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
    }

    /// <summary>The addresses Kestrel bound, with a port 0 resolved, e.g. "http://127.0.0.1:50551"; empty before start.</summary>
    public static IReadOnlyList<string> BoundAddresses(IServiceProvider services) =>
        services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];

    /// <summary>A standalone server host (tests, benchmarks, the test host); `sentinel run` uses the pair above on its own builder.</summary>
    public static WebApplication Build(ServerOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore();
        ConfigureServices(builder, options);
        configure?.Invoke(builder);
        var app = builder.Build();
        MapEndpoints(app);
        return app;
    }

    private static void Listen(KestrelServerOptions kestrel, ListenAddress address, Action<ListenOptions> configure)
    {
        if (address.SocketPath is { } path)
        {
            // A socket file left by a killed agent would make the bind fail.
            if (File.Exists(path)) File.Delete(path);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            kestrel.ListenUnixSocket(path, configure);
        }
        else
        {
            kestrel.Listen(address.EndPoint!, configure);
        }
    }

    private static X509Certificate2 LoadCertificate(ServerOptions options)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(options.TlsCertificatePath!, options.TlsKeyPath);
        }
        catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException)
        {
            throw new ServerConfigurationException($"cannot load the TLS certificate {options.TlsCertificatePath}: {ex.Message}");
        }
    }
}

/// <summary>Serving while the journal is open and writable.</summary>
internal sealed class JournalHealthCheck(DetectionJournal journal) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(!File.Exists(journal.Path) ? HealthCheckResult.Unhealthy("journal file is missing")
            : journal.DegradedReason is { } reason ? HealthCheckResult.Degraded("journal cannot write: " + reason)
            : HealthCheckResult.Healthy());
}

/// <summary>Restricts the unix socket to its owner once Kestrel has created it.</summary>
internal sealed class UnixSocketPermissions(string path, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            if (!OperatingSystem.IsWindows() && File.Exists(path)) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
