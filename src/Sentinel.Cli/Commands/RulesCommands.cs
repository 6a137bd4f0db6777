using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Rules;
using Sentinel.Rules.Compilation;
using Sentinel.Rules.Testing;

namespace Sentinel.Cli;

/// <summary>`sentinel rules list|lint|test|new|init|fixture`: the rule-authoring commands.</summary>
internal static class RulesCommands
{
    public static Command Create()
    {
        var command = new Command("rules", "Author rules: list, lint, test and scaffold the C# rule files.");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Lint());
        command.Subcommands.Add(Test());
        command.Subcommands.Add(New());
        command.Subcommands.Add(Init());
        command.Subcommands.Add(RuleFixtureCommands.Create());
        foreach (var packCommand in RulePackCommands.All()) command.Subcommands.Add(packCommand);
        return command;
    }

    private static Argument<string?> PathArgument(string what) => new("path")
    {
        Description = $"A rules directory or one .csx file (default: {what}).",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private static Command List()
    {
        var path = PathArgument("the built-in rules");
        var command = new Command("list", "Print a table of the rules: id, name, severity, MITRE, file.") { path };
        command.SetAction(parse =>
        {
            var files = RuleFiles(parse.GetValue(path));
            using var engine = RuleEngine.Load(ResolvePath(parse.GetValue(path)), new RuleEngineOptions(), NullLogger.Instance);
            var rows = engine.Rules
                .Select(r => new[]
                {
                    r.Id, r.Name, r.Severity.ToString().ToLowerInvariant(),
                    string.Join(",", r.MitreTactics.Concat(r.MitreTechniques)), Relative(r.File),
                })
                .ToList();
            WriteTable(["ID", "NAME", "SEVERITY", "MITRE", "FILE"], rows);
            foreach (var d in engine.Diagnostics) Console.Error.WriteLine(Relative(d));
            return engine.Diagnostics.Any(d => d.IsError) || engine.Rules.Count < files.Count ? ExitCodes.Findings : ExitCodes.Ok;
        });
        return command;
    }

    private static Command Lint()
    {
        var path = PathArgument("the built-in rules");
        var command = new Command("lint", "Compile and sandbox-check rules; print compiler-style diagnostics. Exit 1 on any error.") { path };
        command.SetAction(parse =>
        {
            var files = RuleFiles(parse.GetValue(path));
            var diagnostics = RuleLinter.Lint(files);
            foreach (var d in diagnostics) Console.WriteLine(Relative(d));
            var errors = diagnostics.Count(d => d.IsError);
            var warnings = diagnostics.Count - errors;
            Console.WriteLine($"{files.Count} rule file(s): {errors} error(s), {warnings} warning(s)");
            return errors > 0 ? ExitCodes.Findings : ExitCodes.Ok;
        });
        return command;
    }

    private static Command Test()
    {
        var path = PathArgument("the built-in rules");
        var watch = new Option<bool>("--watch") { Description = "Stay running: re-run whenever a rule or fixture file changes (or on SIGHUP), until Ctrl+C." };
        var command = new Command("test", "Run every rule's fixtures (x.fixtures.jsonl beside x.csx). Exit 1 on any failure, 2 on a bad fixture line.") { path, watch };
        command.SetAction(async (parse, cancel) =>
        {
            var resolved = ResolvePath(parse.GetValue(path));
            var runner = new FixtureRunner(new RuleEngineOptions(), NullLogger.Instance);
            if (!parse.GetValue(watch)) return RunFixtures(runner, RuleFiles(resolved));
            return await Watch(resolved, runner, cancel);
        });
        return command;
    }

    // Runs once, then again after each change; a broken rule or fixture is reported and waited out, never fatal.
    private static async Task<int> Watch(string path, FixtureRunner runner, CancellationToken cancel)
    {
        var changed = new SemaphoreSlim(0);
        using var watcher = new RuleWatcher(path, TimeSpan.FromMilliseconds(200), () => changed.Release(), fixtures: true);
        var result = ExitCodes.Ok;
        while (true)
        {
            try
            {
                result = RunFixtures(runner, RuleFiles(path));
            }
            catch (CliException ex)
            {
                Console.Error.WriteLine($"sentinel: {ex.Message}");
                result = ex.ExitCode;
            }
            Console.WriteLine($"watching {Relative(Path.GetFullPath(path))} for rule and fixture changes (Ctrl+C to stop)");
            try
            {
                await changed.WaitAsync(cancel);
            }
            catch (OperationCanceledException)
            {
                return result; // the command line reports Ctrl+C as 130 whatever this returns
            }
            while (changed.CurrentCount > 0) await changed.WaitAsync(CancellationToken.None); // one run for a burst of saves
            Console.WriteLine();
            Console.WriteLine($"change detected at {DateTime.Now:HH:mm:ss}: re-running");
        }
    }

    internal static int RunFixtures(FixtureRunner runner, IReadOnlyList<string> files)
    {
        int passed = 0, failed = 0, badLines = 0;
        // Rules run in parallel (each case on a fresh instance, nothing shared); reports print in file order.
        foreach (var (file, report) in files.AsParallel().AsOrdered().Select(f => (f, runner.Run(f))))
        {
            var id = report.RuleId ?? Path.GetFileNameWithoutExtension(file);
            foreach (var d in report.Diagnostics.Where(d => d.IsError)) Console.WriteLine(Relative(d));
            foreach (var bad in report.BadLines) Console.Error.WriteLine($"{Relative(bad.File)}:{bad.Line}: {bad.Field}: {bad.Reason}");
            badLines += report.BadLines.Count;
            if (report.Problem is not null)
            {
                Console.WriteLine($"FAIL  {id}  {Relative(file)}: {report.Problem}");
                failed++;
            }
            foreach (var c in report.Cases)
            {
                Console.WriteLine(c.Passed
                    ? $"PASS  {id}  {c.Case}"
                    : $"FAIL  {id}  {c.Case} ({Relative(report.FixtureFile)}:{c.Line}): {c.Failure}");
                if (c.Passed) passed++; else failed++;
            }
        }
        Console.WriteLine($"{passed} passed, {failed} failed" + (badLines > 0 ? $", {badLines} bad fixture line(s)" : ""));
        return badLines > 0 ? ExitCodes.UsageError : failed > 0 ? ExitCodes.Findings : ExitCodes.Ok;
    }

    private static Command New()
    {
        var name = new Argument<string>("name") { Description = "The rule's name in kebab-case, e.g. large-migration." };
        var dir = new Option<string?>("--dir") { Description = "Where to write it (default: the current directory)." };
        var command = new Command("new", "Scaffold a rule and its fixtures; both pass lint and test as generated.") { name, dir };
        command.SetAction(parse =>
        {
            // Not the built-in pack: a running agent hot-reloads that, and a half-written rule would go live.
            var directory = parse.GetValue(dir) ?? Environment.CurrentDirectory;
            try
            {
                var scaffold = RuleScaffold.Create(directory, parse.GetValue(name)!);
                Console.WriteLine($"created {Relative(scaffold.RuleFile)} ({scaffold.RuleId})");
                Console.WriteLine($"created {Relative(scaffold.FixtureFile)}");
                return ExitCodes.Ok;
            }
            catch (Exception ex) when (ex is ArgumentException or IOException)
            {
                throw new CliException(ex.Message);
            }
        });
        return command;
    }

    private static Command Init()
    {
        var dir = new Argument<string>("dir") { Description = "The rules directory to set up for editors (created if missing).", Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => "." };
        var command = new Command("init",
            "Make a rules directory an editor project: a .csproj that compiles the .csx rules against the rule API " +
            "(completion, go-to-definition, docs) with the sandbox analyzer, and the global usings rules get.") { dir };
        command.SetAction(parse =>
        {
            var directory = Path.GetFullPath(parse.GetValue(dir)!);
            if (File.Exists(directory)) throw new CliException($"{directory}: is a file, expected a directory");
            var result = RuleProject.Init(directory, AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            foreach (var file in result.Written) Console.WriteLine($"created {Relative(file)}");
            foreach (var file in result.Kept) Console.WriteLine($"kept    {Relative(file)} (exists)");
            Console.WriteLine($"open {Relative(directory)} in your editor; `dotnet build {Relative(directory)}` checks every rule as lint does");
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static string ResolvePath(string? path) => path ?? RuleDirectories.Default();

    internal static IReadOnlyList<string> RuleFiles(string? path)
    {
        var resolved = ResolvePath(path);
        if (RuleDirectories.Problem(resolved) is { } problem) throw new CliException(problem);
        return RuleDirectories.RuleFiles(resolved);
    }

    internal static string Relative(string path)
    {
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative.StartsWith("..", StringComparison.Ordinal) ? path : relative;
    }

    internal static string Relative(RuleDiagnostic d) => (d with { File = Relative(d.File) }).ToString();

    private static void WriteTable(string[] header, List<string[]> rows)
    {
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        Console.WriteLine(Row(header));
        foreach (var row in rows) Console.WriteLine(Row(row));

        string Row(string[] cells) =>
            string.Join("  ", cells.Select((c, i) => i == cells.Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd();
    }
}
