using System.CommandLine;
using Sentinel.Cli;

var root = new RootCommand("Sentinel: a runtime-security engine for move_pages(2). Captures every call with eBPF, " +
                           "evaluates C# script rules, and streams detections to SIEMs.");
foreach (var command in CliCommands.All())
    root.Subcommands.Add(command);
return await CliRunner.InvokeAsync(root, args);
