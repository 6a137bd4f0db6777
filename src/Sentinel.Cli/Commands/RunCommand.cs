using System.CommandLine;
using Sentinel.Cli.Agent;
using Microsoft.Extensions.Logging;
using Sentinel.Formats;
using Sentinel.Rules;

namespace Sentinel.Cli;

/// <summary>`sentinel run`: the agent. Captures live, evaluates rules, prints and serves detections.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var format = new Option<string>("--format", "-f")
        {
            Description = "Output format for detections (and for events with --no-rules): " + string.Join("|", DetectionFormats.Names) + ".",
            DefaultValueFactory = _ => "pretty",
        };
        var eventsOut = new Option<string?>("--events-out")
        {
            Description = "Also write every event to this file as JSON Lines of sentinel.v1.Event ('-' for stdout).",
        };
        var noRules = new Option<bool>("--no-rules")
        {
            Description = "Evaluate no rules; print every event to stdout instead.",
        };
        var rules = new Option<string?>("--rules")
        {
            Description = $"The rules directory (or one .csx file); default: the checkout's rules/ or {RuleDirectories.SystemDirectory}. " +
                          "Edits and SIGHUP reload it while running.",
        };
        var command = new Command("run", "Run the agent: attach the probes and stream until Ctrl-C or SIGTERM, then print the counters.")
        {
            rules, format, eventsOut, noRules, CaptureCommands.Strategy, CaptureCommands.Verbose,
        };
        command.SetAction(async parse =>
        {
            var formatName = parse.GetValue(format)!;
            var verbose = parse.GetValue(CaptureCommands.Verbose);
            using var engine = parse.GetValue(noRules) ? null : LoadRules(parse.GetValue(rules) ?? RuleDirectories.Default(), verbose);
            var settings = new AgentSettings
            {
                Strategies = CaptureCommands.ParseStrategies(parse.GetValue(CaptureCommands.Strategy)!),
                Verbose = verbose,
                Detector = engine,
            };
            if (parse.GetValue(eventsOut) is { } path)
                settings.Observers.Add(new JsonLinesEventWriter(path));
            if (parse.GetValue(noRules))
            {
                settings.Observers.Add(formatName switch
                {
                    "pretty" => new PrettyEventPrinter(),
                    "json" => new JsonLinesEventWriter("-"),
                    _ => throw new CliException($"--no-rules prints events, which come as pretty or json, not {formatName}"),
                });
            }
            else
            {
                settings.DetectionSinks.Add(new ConsoleDetectionSink(Formatter(formatName)));
            }
            return await AgentRunner.RunAsync(settings);
        });
        return command;
    }

    /// <summary>Compiles the rules before anything attaches; broken files are reported and the others run.</summary>
    private static RuleEngine LoadRules(string path, bool verbose)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new CliException($"rules path '{path}' does not exist");
        using var loggers = LoggerFactory.Create(logging => AgentRunner.ConfigureLogging(logging, verbose));
        var logger = loggers.CreateLogger("Sentinel.Rules");
        var engine = RuleEngine.Load(path, RuleEngineOptions.Default, logger);
        foreach (var diagnostic in engine.Diagnostics)
            Console.Error.WriteLine($"sentinel: {diagnostic}");
        Console.Error.WriteLine($"sentinel: loaded {engine.Rules.Count} rules from {engine.RulesPath}" +
                                (engine.Diagnostics.Count > 0 ? $" ({engine.Diagnostics.Count} failed to load)" : ""));
        engine.StartWatching();
        return engine;
    }

    internal static IDetectionFormatter Formatter(string name)
    {
        try { return DetectionFormats.Get(name); }
        catch (ArgumentException ex) { throw new CliException(ex.Message); }
    }
}
