using System.CommandLine;
using Microsoft.Extensions.Logging;
using Sentinel.Cli.Agent;
using Sentinel.Formats;
using Sentinel.Rules;
using Sentinel.Server;

namespace Sentinel.Cli;

/// <summary>`sentinel run`: the agent. Captures live, evaluates rules, prints, journals and serves detections.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var rules = new Option<string?>("--rules")
        {
            Description = $"The rules directory (or one .csx file); default: the checkout's rules/ or {RuleDirectories.SystemDirectory}. " +
                          "Edits and SIGHUP reload it while running. 'nats': follow the signed packs in SENTINEL_RULES (with --rules-pubkey, --nats).",
        };
        var rulesPubkey = new Option<string?>("--rules-pubkey") { Description = "With --rules nats: the trusted rule-pack public key(s) (`sentinel rules keygen`)." };
        var noRules = new Option<bool>("--no-rules") { Description = "Evaluate no rules; print every event to stdout instead." };
        var strict = new Option<bool>("--strict")
        {
            Description = "Refuse to start if any rule file fails to load (default: report it in the log and status, and run the others).",
        };
        var format = new Option<string>("--format", "-f")
        {
            Description = "Output format for detections (and for events with --no-rules): " + string.Join("|", DetectionFormats.Names) + ".",
            DefaultValueFactory = _ => "pretty",
        };
        var eventsOut = new Option<string?>("--events-out")
        {
            Description = "Also write every event to this file as JSON Lines of sentinel.v1.Event ('-' for stdout).",
        };
        var listen = new Option<string>("--listen")
        {
            Description = "gRPC listener: HOST:PORT or unix:PATH. A non-loopback address requires --tls-cert.",
            DefaultValueFactory = _ => $"127.0.0.1:{ServerOptions.DefaultPort}",
        };
        var noServer = new Option<bool>("--no-server") { Description = "Serve no gRPC and keep no journal: print only." };
        var journal = new Option<string>("--journal")
        {
            Description = "The detection journal (SQLite). Detections are committed here before any stream sees them.",
            DefaultValueFactory = _ => ServerOptions.DefaultJournalPath(),
        };
        var retentionDays = new Option<double?>("--retention-days") { Description = "Prune journaled detections older than this (default 7)." };
        var retentionMb = new Option<long?>("--retention-mb") { Description = "Prune the oldest detections past this journal size (default 1024)." };
        var metrics = new Option<string?>("--metrics") { Description = "Serve Prometheus metrics at http://ADDR/metrics (HOST:PORT)." };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "Server certificate (PEM) for TLS." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "Server private key (PEM)." };
        var clientCa = new Option<string?>("--client-ca") { Description = "Require client certificates signed by this CA (mTLS)." };
        var token = new Option<string?>("--token") { Description = "Require this bearer token from clients (with TLS)." };
        var tokenFile = new Option<string?>("--token-file") { Description = "Require the bearer token in this file (first line), kept off the command line." };
        var syslog = new Option<string?>("--syslog")
        {
            Description = "Also send detections as CEF in RFC 5424 syslog: HOST:PORT (UDP), tcp://HOST:PORT or file:PATH.",
        };
        var command = new Command("run", "Run the agent: attach the probes, evaluate the rules, print and serve detections until Ctrl-C or SIGTERM, then print the counters.")
        {
            rules, noRules, strict, format, eventsOut, listen, noServer, journal, retentionDays, retentionMb, metrics,
            tlsCert, tlsKey, clientCa, token, syslog, tokenFile, CaptureCommands.Strategy, CaptureCommands.Verbose,
            rulesPubkey,
        };
        var fleetExport = FleetExportOptions.AddTo(command);
        foreach (var option in EnforceOptions.All) command.Options.Add(option);
        command.SetAction(async parse =>
        {
            var formatName = parse.GetValue(format)!;
            var verbose = parse.GetValue(CaptureCommands.Verbose);
            var printer = parse.GetValue(noRules) ? null : Formatter(formatName);
            var server = parse.GetValue(noServer) ? null : new ServerOptions
            {
                Listen = parse.GetValue(listen)!,
                JournalPath = parse.GetValue(journal)!,
                RetentionAge = parse.GetValue(retentionDays) is { } days ? TimeSpan.FromDays(days) : TimeSpan.FromDays(7),
                RetentionBytes = parse.GetValue(retentionMb) is { } mb ? mb * 1024 * 1024 : 1L << 30,
                MetricsListen = parse.GetValue(metrics),
                TlsCertificatePath = parse.GetValue(tlsCert),
                TlsKeyPath = parse.GetValue(tlsKey),
                ClientCaPath = parse.GetValue(clientCa),
                Token = TokenFile.Resolve(parse.GetValue(token), parse.GetValue(tokenFile)),
                HostId = fleetExport.HostId(parse),
            };
            await using var syslogSink = parse.GetValue(syslog) is { } target ? new SyslogDetectionSink(ParseSyslog(target)) : null;
            var latency = new RuleLatencyRelay();
            if (parse.GetValue(rules) != "nats" && parse.GetValue(rulesPubkey) is not null) throw new CliException("--rules-pubkey goes with --rules nats");
            using var packs = printer is not null && parse.GetValue(rules) == "nats"
                ? RulePackAgent.Create(parse.GetValue(rulesPubkey), fleetExport.Connection(parse), parse.GetValue(journal)!, verbose) : null;
            using var engine = printer is null ? null
                : LoadRules(packs?.Deployment.ActivePath ?? parse.GetValue(rules), parse.GetValue(strict), verbose, latency, fromPack: packs is not null);
            if (engine is not null) packs?.Attach(engine);
            var settings = new AgentSettings
            {
                RuleLatency = latency,
                Strategies = CaptureCommands.ParseStrategies(parse.GetValue(CaptureCommands.Strategy)!),
                Verbose = verbose,
                Rules = engine,
                Server = server,
                RulePacks = packs,
                FleetExport = fleetExport.Parse(parse, server, printer is null || packs is not null ? null : parse.GetValue(rules) ?? RuleDirectories.Default()),
                Response = EnforceOptions.Parse(parse),
            };
            if (parse.GetValue(eventsOut) is { } path)
                settings.Observers.Add(new JsonLinesEventWriter(path));
            if (printer is null)
                settings.Observers.Add(formatName switch
                {
                    "pretty" => new PrettyEventPrinter(),
                    "json" => new JsonLinesEventWriter("-"),
                    _ => throw new CliException($"--no-rules prints events, which come as pretty or json, not {formatName}"),
                });
            else
                settings.DetectionSinks.Add(ConsoleDetectionSink.For(printer));
            if (syslogSink is not null) settings.DetectionSinks.Add(syslogSink);
            return await AgentRunner.RunAsync(settings);
        });
        return command;
    }

    /// <summary>Compiles the rules before anything attaches; broken files are reported and the others run.</summary>
    private static RuleEngine LoadRules(string? path, bool strict, bool verbose, RuleLatencyRelay latency, bool fromPack)
    {
        using var loggers = LoggerFactory.Create(logging => AgentRunner.ConfigureLogging(logging, verbose));
        var engine = LoadRules(path, strict, loggers.CreateLogger("Sentinel.Rules"),
            RuleEngineOptions.Default with { LatencyObserver = latency.Observe }, allowEmpty: fromPack);
        if (!fromPack) engine.StartWatching(); // a pack is swapped in whole by its follower, never file by file
        return engine;
    }

    /// <summary>
    /// Loads the rules of <paramref name="path"/> (default: the checkout's rules/ or the system directory) for
    /// run and replay. A path with no rules is refused (exit 2): evaluating none would be a silent false
    /// negative. A file that fails is reported and the others run, unless <paramref name="strict"/>.
    /// </summary>
    internal static RuleEngine LoadRules(string? path, bool strict, ILogger logger, RuleEngineOptions? options = null, bool allowEmpty = false)
    {
        path ??= RuleDirectories.Default();
        // A fleet agent with no pack yet runs an empty directory until its first pack arrives.
        if (!allowEmpty && RuleDirectories.Problem(path) is { } problem) throw new CliException(problem);
        var engine = RuleEngine.Load(path, options ?? RuleEngineOptions.Default, logger);
        var errors = engine.Diagnostics.Where(d => d.IsError).ToList();
        foreach (var diagnostic in engine.Diagnostics)
            Console.Error.WriteLine($"sentinel: {diagnostic}");
        var failed = errors.Select(d => d.File).Distinct().Count();
        if (strict && failed > 0)
        {
            engine.Dispose();
            throw new CliException($"{failed} rule file(s) failed to load and --strict is set (see 'sentinel rules lint {path}')");
        }
        Console.Error.WriteLine($"sentinel: loaded {engine.Rules.Count} rules from {engine.RulesPath}" +
                                (failed > 0 ? $" ({failed} file(s) failed to load; the others run)" : ""));
        return engine;
    }

    private static SyslogTarget ParseSyslog(string value)
    {
        try { return SyslogTarget.Parse(value); }
        catch (ArgumentException ex) { throw new CliException(ex.Message); }
    }

    internal static IDetectionFormatter Formatter(string name)
    {
        try { return DetectionFormats.Get(name); }
        catch (ArgumentException ex) { throw new CliException(ex.Message); }
    }
}
