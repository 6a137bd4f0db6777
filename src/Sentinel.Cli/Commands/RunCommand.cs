using System.CommandLine;
using Sentinel.Cli.Agent;
using Sentinel.Formats;

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
        var command = new Command("run", "Run the agent: attach the probes and stream until Ctrl-C or SIGTERM, then print the counters.")
        {
            format, eventsOut, noRules, CaptureCommands.Strategy, CaptureCommands.Verbose,
        };
        command.SetAction(async parse =>
        {
            var formatName = parse.GetValue(format)!;
            var settings = new AgentSettings
            {
                Strategies = CaptureCommands.ParseStrategies(parse.GetValue(CaptureCommands.Strategy)!),
                Verbose = parse.GetValue(CaptureCommands.Verbose),
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

    internal static IDetectionFormatter Formatter(string name)
    {
        try { return DetectionFormats.Get(name); }
        catch (ArgumentException ex) { throw new CliException(ex.Message); }
    }
}
