using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging;
using Sentinel.Pipeline;
using Sentinel.Fleet;
using Sentinel.Fleet.Export;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.ProcessTree;
using Sentinel.Rules;
using Sentinel.Server;
using Sentinel.Server.Journal;
using Sentinel.Bpf;

namespace Sentinel.Cli.Agent;

/// <summary>What one `run` or `record` invocation wires together.</summary>
internal sealed class AgentSettings
{
    public IReadOnlyList<AttachStrategy>? Strategies { get; init; }
    public List<IEventObserver> Observers { get; } = [];
    public List<IDetectionSink> DetectionSinks { get; } = [];
    public RuleEngine? Rules { get; init; }
    /// <summary>Where the rule engine sends its sampled latencies; connected to the metrics when serving.</summary>
    public RuleLatencyRelay? RuleLatency { get; init; }
    /// <summary>When set, the gRPC server, the journal and the metrics run in the same host.</summary>
    public ServerOptions? Server { get; init; }
    /// <summary>With a server: export the journal to NATS JetStream and publish heartbeats (`--nats`).</summary>
    public FleetExportSettings? FleetExport { get; init; }
    public TimeSpan? Duration { get; init; }
    /// <summary>`--rules nats`: the pack follower, its status and IRulePackInfo.</summary>
    public RulePackAgent? RulePacks { get; init; }
    public bool Verbose { get; init; }
    /// <summary>`--enforce[=audit]`: the in-kernel response; null when off.</summary>
    public Sentinel.Response.ResponseOptions? Response { get; init; }
    internal Sentinel.Response.ResponseCoordinator? ResponseCoordinator { get; set; }
}

/// <summary>Runs the capture pipeline until Ctrl-C, SIGTERM or the duration ends, then prints the counters.</summary>
internal static class AgentRunner
{
    public static async Task<int> RunAsync(AgentSettings settings)
    {
        try
        {
            BpfEnvironment.EnsureReady(); // before the host exists, so a missing privilege is one clear line
        }
        catch (BpfEnvironmentException ex)
        {
            throw new CliException(ex.Message);
        }

        // In-kernel response: attached first (a refusal is one line), fed detections, publishing into the journal.
        using var response = settings.ResponseCoordinator = ResponseWiring.Attach(settings.Response, settings.Rules, settings.Verbose);
        if (response is not null && settings.Server is null) settings.DetectionSinks.Add(response);
        using var host = Build(settings);
        if (response is not null)
            response.Publish = settings.Server is null
                ? new FanOutSink(settings.DetectionSinks.Where(s => s != response).ToArray())
                : host.Services.GetRequiredService<DetectionJournal>();
        var capture = host.Services.GetRequiredService<CaptureService>();
        capture.Attached += probe =>
            Console.Error.WriteLine($"sentinel: attached move_pages probes (strategy: {MovePagesProbe.StrategyName(probe.Strategy)}; " +
                                    MovePagesProbe.Describe(probe.Attempts) + ")");
        try
        {
            await host.StartAsync();
        }
        catch (Exception ex) when (ex is BpfEnvironmentException or ProbeAttachException or BpfException or ServerConfigurationException or FleetConfigurationException)
        {
            throw new CliException(ex.Message);
        }
        catch (IOException ex) when (settings.Server is not null)
        {
            throw new CliException($"cannot listen on {settings.Server.Listen}: {ex.Message} (choose another with --listen)");
        }
        if (settings.Server is { } server)
            Console.Error.WriteLine($"sentinel: serving gRPC on {server.Listen}, journal {server.JournalPath}" +
                                    (server.MetricsListen is { } metrics ? $", metrics on http://{metrics}/metrics" : ""));
        if (settings.FleetExport is { } export)
            Console.Error.WriteLine($"sentinel: exporting detections as host {host.Services.GetRequiredService<DetectionJournal>().HostId} " +
                                    $"to NATS {string.Join(",", export.Fleet.Servers)} stream {export.Fleet.Stream}");

        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        if (settings.Duration is { } duration)
        {
            try { await Task.Delay(duration, lifetime.ApplicationStopping); }
            catch (OperationCanceledException) { }
            lifetime.StopApplication();
        }
        await host.WaitForShutdownAsync();
        // Past the host's shutdown timeout the backlog is still processed: accepted events are never dropped.
        await host.Services.GetRequiredService<PipelineService>().Completion;

        Console.Error.WriteLine(CountersLine(capture, host.Services.GetRequiredService<EventPipeline>()));
        foreach (var disposable in settings.Observers.OfType<IDisposable>()) disposable.Dispose();
        return ExitCodes.Ok;
    }

    private static IHost Build(AgentSettings settings)
    {
        if (settings.Server is not { } server)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            Configure(builder.Services, builder.Logging, settings);
            return builder.Build();
        }
        var web = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        web.WebHost.UseKestrelCore();
        try
        {
            // First, so the journal starts before capture and stops after the pipeline has drained into it.
            SentinelServer.ConfigureServices(web, server);
            // Right after the journal: export stops after the pipeline has drained, and before the journal closes.
            if (settings.FleetExport is { } fleet)
                web.Services.AddSentinelFleetExport(fleet.Fleet, fleet.Export, fleet.RulesPath);
        }
        catch (Exception ex) when (ex is ServerConfigurationException or FleetConfigurationException)
        {
            throw new CliException(ex.Message);
        }
        Configure(web.Services, web.Logging, settings);
        var app = web.Build();
        DetectionJournal journal;
        try
        {
            // The journal opens when it is first resolved, here: a path it cannot open is a one-line error.
            SentinelServer.MapEndpoints(app);
            journal = app.Services.GetRequiredService<DetectionJournal>();
        }
        catch (ServerConfigurationException ex)
        {
            throw new CliException(ex.Message);
        }
        settings.RuleLatency?.Attach(app.Services.GetRequiredService<SentinelMetrics>());
        foreach (var sink in settings.DetectionSinks) journal.AddCommittedSink(sink);
        return app;
    }

    private static void Configure(IServiceCollection services, ILoggingBuilder logging, AgentSettings settings)
    {
        ConfigureLogging(logging, settings.Verbose);
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        services.AddSingleton<IHostLifetime, ConsoleLifetime>();
        services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);

        // Lost records become SNT-0000 detections on the pipeline's detection path (journal, streams, printers).
        services.AddSingleton(sp => new CaptureOptions { Strategies = settings.Strategies, LossSink = sp.GetRequiredService<EventPipeline>() });
        foreach (var observer in settings.Observers) services.AddSingleton(observer);
        // Without a server the printers (and the response) take detections from the pipeline; with one, the journal
        // (a DI sink) hands them to the printers once committed and numbered.
        if (settings.Server is null)
            foreach (var sink in settings.DetectionSinks) services.AddSingleton(sink);
        else if (settings.ResponseCoordinator is { } response)
            services.AddSingleton<IDetectionSink>(response);
        services.AddSingleton<IAgentStatusContributor, ProbeStatusContributor>();
        if (settings.ResponseCoordinator is { } coordinator)
            services.AddSingleton<IAgentStatusContributor>(new ResponseStatusContributor(coordinator));
        if (settings.Rules is { } rules)
        {
            services.AddSingleton(rules);
            services.AddSingleton<IDetector>(rules);
            services.AddSingleton<IRuleCatalog, RuleCatalog>();
            services.AddSingleton<IAgentStatusContributor, RuleStatusContributor>();
        }
        settings.RulePacks?.AddTo(services);
        // Hosted services start in order and stop in reverse: the pipeline reads before capture starts, the
        // process tree is seeded before the first event, and capture drains and completes the channel
        // before the pipeline stops.
        services.AddSentinelPipeline();
        services.AddSentinelProcessTree();
        services.AddSingleton<CaptureService>();
        services.AddHostedService(sp => sp.GetRequiredService<CaptureService>());
    }

    internal static void ConfigureLogging(ILoggingBuilder logging, bool verbose)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        logging.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Warning);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        // Start-up failures are reported once, as one line, by the command itself.
        logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", LogLevel.Error);
        logging.AddFilter("Sentinel.Libbpf", verbose ? LogLevel.Information : LogLevel.Error);
    }

    private static string CountersLine(CaptureService capture, EventPipeline pipeline)
    {
        if (capture.Source is not { } source) return "sentinel: no capture ran";
        var k = source.Probe.Counters.Snapshot();
        return $"sentinel: counters: kernel submitted={k.Submitted} lost={k.Lost} exits-without-entry={k.ExitWithoutEntry} " +
               $"compat={k.Compat} fold-records={k.FoldRecords} folded-calls={k.FoldedCalls} " +
               $"loss-detections={source.LossDetections}; received={source.Counters.Received} decode-errors={source.Counters.DecodeErrors} " +
               $"processed={pipeline.Counters.Events} detections={pipeline.Counters.Detections}";
    }
}
