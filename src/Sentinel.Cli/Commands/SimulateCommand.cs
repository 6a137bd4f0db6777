using System.CommandLine;
using Sentinel.Simulate;

namespace Sentinel.Cli;

/// <summary>`sentinel simulate SCENARIO | --list`: real move_pages calls that fire each built-in rule.</summary>
internal static class SimulateCommand
{
    public static Command Create()
    {
        var scenario = new Argument<string?>("scenario")
        {
            Description = "The scenario to run (see --list).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var list = new Option<bool>("--list") { Description = "List the scenarios and the rule each should fire." };
        var json = new Option<bool>("--json") { Description = "Print what the scenario did as one JSON object (pids, uids, results)." };
        var command = new Command("simulate",
            "Make real move_pages calls that trigger a built-in rule (run the agent alongside to see the detection).")
        {
            scenario, list, json,
        };
        command.SetAction(parse =>
        {
            var name = parse.GetValue(scenario);
            if (parse.GetValue(list))
            {
                if (name is not null) throw new CliException("give a scenario or --list, not both");
                Console.Write(List());
                return ExitCodes.Ok;
            }
            if (name is null) throw new CliException("which scenario? Run 'sentinel simulate --list' to see them");
            var chosen = ScenarioCatalog.Find(name) ?? throw new CliException(
                $"unknown scenario '{name}' (known: {string.Join(", ", ScenarioCatalog.All.Select(s => s.Name))})");
            if (chosen.NeedsRoot && !SimulationContext.IsRoot)
                throw new CliException($"scenario '{chosen.Name}' needs root (it runs processes as another uid or in new namespaces)");

            ScenarioResult result;
            using (var context = new SimulationContext(Console.Error))
            {
                try { result = chosen.Run(context); }
                catch (SimulationException ex) { throw new CliException($"{chosen.Name}: {ex.Message}", ExitCodes.Findings); }
            }
            Console.WriteLine(parse.GetValue(json) ? result.ToJson() : Describe(chosen, result));
            return ExitCodes.Ok;
        });
        return command;
    }

    public static string List()
    {
        var w = new StringWriter();
        var width = ScenarioCatalog.All.Max(s => s.Name.Length);
        w.WriteLine($"{"SCENARIO".PadRight(width)}  {"RULE".PadRight(8)}  DESCRIPTION");
        foreach (var s in ScenarioCatalog.All)
        {
            var rule = s.RuleId ?? "(none)";
            var also = s.AlsoFires.Count > 0 ? $" (also {string.Join(", ", s.AlsoFires)})" : "";
            w.WriteLine($"{s.Name.PadRight(width)}  {rule.PadRight(8)}  {s.Description}{also}{(s.NeedsRoot ? " [root]" : "")}");
        }
        return w.ToString();
    }

    private static string Describe(Scenario scenario, ScenarioResult result)
    {
        var expected = result.ExpectedRules.Count == 0 ? "no rule" : string.Join(", ", result.ExpectedRules);
        var caller = result.CallerPid != 0 ? $"pid {result.CallerPid}" : "a process in new namespaces";
        return $"{scenario.Name}: {caller} called move_pages (pid argument {result.PidArgument}) {result.Results.Count} time(s): " +
               $"{string.Join(", ", result.Results.Distinct())}. Expect {expected}." +
               (result.Note.Length > 0 ? $" ({result.Note})" : "");
    }
}
