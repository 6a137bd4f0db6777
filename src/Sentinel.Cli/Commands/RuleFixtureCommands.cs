using System.CommandLine;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Rules;
using Sentinel.Rules.Testing;

namespace Sentinel.Cli;

/// <summary>`sentinel rules fixture add`: recorded events become fixture lines.</summary>
internal static class RuleFixtureCommands
{
    public static Command Create()
    {
        var command = new Command("fixture", "Manage a rule's fixtures.");
        command.Subcommands.Add(Add());
        return command;
    }

    private static Command Add()
    {
        var rule = new Argument<string>("rule") { Description = "The rule: its .csx file, or its id (e.g. SNT-1001) in --rules." };
        var from = new Option<string>("--from") { Description = "A recorded event file (JSON Lines, as `record` and `run --events-out` write).", Required = true };
        var line = new Option<string?>("--line") { Description = "Take only these lines of the file: N, N-M or a list such as 3-7,9 (1-based; default: every event in it)." };
        var fires = new Option<bool?>("--fires")
        {
            Description = "Whether the rule must fire on each added event: true or false.",
            Required = true,
            Arity = ArgumentArity.ExactlyOne,
        };
        var caseName = new Option<string>("--case") { Description = "The case name. Appending to the file's last case of that name continues it (a stateful sequence).", Required = true };
        var rules = new Option<string?>("--rules") { Description = "Where to look up a rule id (default: the current directory)." };
        var command = new Command("add",
            "Append recorded events to a rule's fixtures (x.fixtures.jsonl beside x.csx), each reduced to what differs from " +
            "the fixture defaults, then run that case.") { rule, from, line, fires, caseName, rules };
        command.SetAction(parse =>
        {
            var ruleFile = ResolveRule(parse.GetValue(rule)!, parse.GetValue(rules) ?? Environment.CurrentDirectory);
            var name = parse.GetValue(caseName)!;
            if (string.IsNullOrWhiteSpace(name)) throw new CliException("--case: expected a non-empty case name");
            var fixtureFile = RuleDirectories.FixturePath(ruleFile);
            CheckCaseName(fixtureFile, name);
            var events = ReadEvents(parse.GetValue(from)!, parse.GetValue(line));
            var expected = parse.GetValue(fires) ?? throw new CliException("--fires: required, true or false");
            var lines = events.Select(e => new JsonObject
            {
                ["case"] = name, ["fires"] = expected, ["event"] = FixtureEvents.Minimize(e),
            }.ToJsonString()).ToList();
            Append(fixtureFile, lines);
            Console.WriteLine($"added {lines.Count} line(s) to {RulesCommands.Relative(fixtureFile)} as case \"{name}\" (fires: {(expected ? "true" : "false")})");

            // What the rule does with the new case now: a recorded false negative fails until the rule is fixed.
            var report = new FixtureRunner(new RuleEngineOptions(), NullLogger.Instance).Run(ruleFile);
            foreach (var c in report.Cases.Where(c => c.Case == name))
                Console.WriteLine(c.Passed ? $"PASS  {report.RuleId}  {c.Case}" : $"FAIL  {report.RuleId}  {c.Case}: {c.Failure}");
            foreach (var d in report.Diagnostics.Where(d => d.IsError)) Console.WriteLine(RulesCommands.Relative(d));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string ResolveRule(string rule, string directory)
    {
        if (File.Exists(rule) || rule.EndsWith(".csx", StringComparison.OrdinalIgnoreCase))
        {
            if (RuleDirectories.Problem(rule) is { } problem) throw new CliException(problem);
            return Path.GetFullPath(rule);
        }
        if (RuleDirectories.Problem(directory) is { } dirProblem) throw new CliException($"rule {rule}: {dirProblem}");
        using var engine = RuleEngine.Load(directory, new RuleEngineOptions(), NullLogger.Instance);
        var match = engine.Rules.FirstOrDefault(r => string.Equals(r.Id, rule, StringComparison.OrdinalIgnoreCase));
        return match?.File ?? throw new CliException(
            $"no rule {rule} in {RulesCommands.Relative(Path.GetFullPath(directory))} (its rules: {string.Join(", ", engine.Rules.Select(r => r.Id))}); pass the .csx file or --rules DIR");
    }

    // A name used by an earlier case would make two cases of one name; continuing the last case is fine.
    private static void CheckCaseName(string fixtureFile, string name)
    {
        if (!File.Exists(fixtureFile)) return;
        var cases = FixtureRunner.CaseNames(fixtureFile);
        var earlier = cases.Take(cases.Count - 1).FirstOrDefault(c => c.Name == name);
        if (earlier.Name is not null)
            throw new CliException($"{RulesCommands.Relative(fixtureFile)}:{earlier.Line}: case \"{name}\" already exists; choose another --case name");
    }

    private static List<MovePagesEvent> ReadEvents(string file, string? lines)
    {
        LineSelection? only;
        try
        {
            only = lines is null ? null : LineSelection.Parse(lines);
        }
        catch (FormatException ex)
        {
            throw new CliException($"--line: {ex.Message}");
        }
        if (!File.Exists(file)) throw new CliException($"{file}: no such event file");
        var read = EventFile.Read(file).Where(l => only?.Contains(l.Line) ?? true).ToList();
        var bad = read.Where(l => l.Error is not null).Select(l => l.Error!).ToList();
        foreach (var error in bad) Console.Error.WriteLine($"{RulesCommands.Relative(Path.GetFullPath(error.File))}:{error.Line}: {error.Field}: {error.Reason}");
        if (bad.Count > 0) throw new CliException($"{file}: {bad.Count} bad line(s); nothing added");
        if (only is not null)
        {
            // Every line asked for must hold an event: a silently shorter case would test less than intended.
            var count = File.ReadLines(file).Count();
            if (only.Last > count) throw new CliException($"--line: asks for line {only.Last}, but {file} has {count} line(s)");
            var missing = only.Lines.Except(read.Select(l => l.Line)).ToList();
            if (missing.Count > 0) throw new CliException($"{file}: no event on line(s) {Abbreviate(missing)} (blank)");
        }
        if (read.Count == 0) throw new CliException($"{file}: no events");
        return [.. read.Select(l => l.Event!)];
    }

    private static string Abbreviate(List<int> lines) =>
        string.Join(", ", lines.Take(10)) + (lines.Count > 10 ? $" and {lines.Count - 10} more" : "");

    private static void Append(string fixtureFile, List<string> lines)
    {
        // A file not ending in a newline would glue the first new line onto its last one.
        var needsNewline = File.Exists(fixtureFile) && new FileInfo(fixtureFile).Length > 0 && LastByte(fixtureFile) != '\n';
        File.AppendAllText(fixtureFile, (needsNewline ? "\n" : "") + string.Join("\n", lines) + "\n");
    }

    private static int LastByte(string file)
    {
        using var stream = File.OpenRead(file);
        stream.Seek(-1, SeekOrigin.End);
        return stream.ReadByte();
    }
}
