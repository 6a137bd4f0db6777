using System.CommandLine;

namespace Sentinel.Cli;

/// <summary>Every top-level command. Each area keeps its commands in its own file under Commands/.</summary>
internal static class CliCommands
{
    public static IEnumerable<Command> All() =>
    [
        RunCommand.Create(),
        CaptureCommands.Record(),
        EventsCommands.Create(),
        RulesCommands.Create(),
        ReplayCommand.Create(),
        StreamCommand.Create(),
        StatusCommand.Create(),
        SimulateCommand.Create(),
        FleetCommands.Create(),
    ];
}
