using System.CommandLine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Contracts;
using Sentinel.Pipeline;
using Sentinel.Events;
using Sentinel.Formats;
using Sentinel.Cli.Agent;
using Sentinel.Rules;
using Sentinel.Rules.Testing;

namespace Sentinel.Cli;

/// <summary>`sentinel replay FILE`: evaluates the rules over a recorded event file, as the agent would live.</summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "An event file: JSON Lines of sentinel.v1.Event." };
        var rules = new Option<string?>("--rules")
        {
            Description = "A rules directory or .csx file (default: the built-in rules).",
        };
        var noRules = new Option<bool>("--no-rules") { Description = "Evaluate no rules (only check the event file)." };
        var strict = new Option<bool>("--strict") { Description = "Refuse to run if any rule file fails to load (default: report it and run the others)." };
        var format = new Option<string>("--format", "-f")
        {
            Description = "Detection output: " + string.Join("|", DetectionFormats.Names) + " (json: one detection a line).",
            DefaultValueFactory = _ => "pretty",
        };
        var command = new Command("replay", "Evaluate the rules over a recorded event file and print the detections. " +
                                            "Exit 1 if any rule fired.") { file, rules, noRules, strict, format };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            if (!File.Exists(path)) throw new CliException($"{path}: no such event file");
            var formatter = RunCommand.Formatter(parse.GetValue(format)!);
            using var loggers = LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
                .SetMinimumLevel(LogLevel.Warning));
            using var engine = parse.GetValue(noRules)
                ? null
                : RunCommand.LoadRules(parse.GetValue(rules), parse.GetValue(strict), loggers.CreateLogger("Sentinel.Rules"));

            var counter = new CountingSink(new ConsoleDetectionSink(formatter));
            var pipeline = new EventPipeline([], engine, [], [counter], NullLogger<EventPipeline>.Instance);
            // A bad line is reported (file:line: JSON path: reason) and skipped; the rest still replays, and
            // any bad line makes the exit 2, since the replay did not see the whole recording.
            var badLines = 0;
            using var lines = EventFile.Read(path).GetEnumerator();
            // Guarded as in the agent: a rule stuck in one framework call is stopped and the replay goes on from the next line.
            pipeline.RunGuarded(() =>
            {
                while (lines.MoveNext())
                {
                    if (lines.Current.Error is { } error)
                    {
                        Console.Error.WriteLine(error.Message);
                        badLines++;
                    }
                    else pipeline.Process(lines.Current.Event!);
                }
            });
            pipeline.Flush(); // fold summaries still open at the end of the file
            Console.Out.Flush();
            if (badLines > 0)
                throw new CliException($"{path}: {badLines} bad line(s); the other events were replayed");
            return counter.Count > 0 ? ExitCodes.Findings : ExitCodes.Ok;
        });
        return command;
    }

    private sealed class CountingSink(IDetectionSink inner) : IDetectionSink
    {
        public int Count { get; private set; }

        public void OnDetection(Detection detection)
        {
            Count++;
            inner.OnDetection(detection);
        }
    }
}
