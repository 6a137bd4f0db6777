using System.CommandLine;
using Sentinel.Cli.Agent;
using Sentinel.Events;
using Sentinel.Formats;
using Sentinel.Probes;

namespace Sentinel.Cli;

/// <summary>`sentinel run` and `sentinel record`: live capture of move_pages.</summary>
internal static class CaptureCommands
{
    internal static readonly Option<string> Strategy = new("--strategy")
    {
        Description = "Probe attach strategy: auto (kprobe, then tp_btf, then tracepoint, then raw_syscalls), kprobe, tp_btf, tracepoint or raw_syscalls.",
        DefaultValueFactory = _ => "auto",
    };

    internal static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Log probe attach details and libbpf messages to stderr.",
    };

    internal static IReadOnlyList<AttachStrategy>? ParseStrategies(string value)
    {
        if (value == "auto") return null;
        try { return [MovePagesProbe.ParseStrategy(value)]; }
        catch (ArgumentException ex) { throw new CliException(ex.Message); }
    }

    public static Command Record()
    {
        var output = new Option<string>("--out", "-o") { Description = "The event file to write (JSON Lines of sentinel.v1.Event).", Required = true };
        var duration = new Option<double?>("--duration") { Description = "Stop after this many seconds (default: until Ctrl-C or SIGTERM)." };
        var command = new Command("record", "Capture move_pages calls into an event file until Ctrl-C, SIGTERM or --duration.")
        {
            output, duration, Strategy, Verbose,
        };
        command.SetAction(async parse =>
        {
            var seconds = parse.GetValue(duration);
            if (seconds is <= 0) throw new CliException("--duration must be a positive number of seconds");
            var writer = new JsonLinesEventWriter(parse.GetValue(output)!);
            var settings = new AgentSettings
            {
                Strategies = ParseStrategies(parse.GetValue(Strategy)!),
                Duration = seconds is { } s ? TimeSpan.FromSeconds(s) : null,
                Verbose = parse.GetValue(Verbose),
            };
            settings.Observers.Add(writer);
            var exit = await AgentRunner.RunAsync(settings);
            Console.Error.WriteLine($"sentinel: wrote {writer.Written} events to {parse.GetValue(output)}");
            return exit;
        });
        return command;
    }
}
