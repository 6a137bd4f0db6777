using System.Text.Json;
using Microsoft.Extensions.Logging;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Rules.Compilation;

namespace Sentinel.Rules.Testing;

/// <summary>One case of a fixture file: consecutive lines with the same "case" name, run on a fresh rule instance.</summary>
public sealed record FixtureCaseResult(string Case, int Line, bool Passed, string? Failure);

public sealed record FixtureReport(
    string RuleFile,
    string FixtureFile,
    string? RuleId,
    IReadOnlyList<RuleDiagnostic> Diagnostics,
    IReadOnlyList<FixtureCaseResult> Cases,
    string? Problem)
{
    /// <summary>Lines that do not parse, every one of them; the cases are not run when there is any.</summary>
    public IReadOnlyList<FixtureFormatException> BadLines { get; init; } = [];

    public bool Passed => Problem is null && BadLines.Count == 0 && !Diagnostics.Any(d => d.IsError) && Cases.All(c => c.Passed);
}

/// <summary>A fixture or event file line that is not valid: names the file, line and the full JSON path of the field.</summary>
public sealed class FixtureFormatException(string file, int line, string field, string message)
    : Exception($"{file}:{line}: {field}: {message}")
{
    public string File { get; } = file;
    public int Line { get; } = line;
    public string Field { get; } = field;
    public string Reason { get; } = message;

    internal static FixtureFormatException At(string file, int line, FixtureFieldException ex) => new(file, line, ex.Path, ex.Message);
}

/// <summary>
/// Runs a rule's fixtures: <c>x.fixtures.jsonl</c> beside <c>x.csx</c>, one JSON object a line:
/// <c>{"case": "name", "fires": true, "event": { …sentinel.v1.Event… }}</c>, where the event may be partial
/// (<see cref="FixtureEvents"/>: omitted fields take documented defaults). Consecutive lines with the same
/// case name are one case (for stateful rules), evaluated in order on a fresh instance; <c>fires</c> says
/// whether the rule must produce a finding on that line's event.
/// </summary>
public sealed class FixtureRunner
{
    /// <summary>The host fixtures run on: the usual initial namespace inodes, 2 NUMA nodes, 64-bit.</summary>
    public static readonly HostInfo FixtureHost = new()
    {
        MountNamespace = 4026531840, PidNamespace = 4026531836, NumaNodes = 2, Is64Bit = true,
    };

    private readonly RuleFactory _factory;
    private readonly RuleCache? _cache;

    public FixtureRunner(RuleEngineOptions options, ILogger logger)
    {
        _factory = new RuleFactory(options with { Host = FixtureHost }, FixtureHost, logger);
        _cache = RuleCache.For(options);
    }

    public FixtureReport Run(string ruleFile)
    {
        ruleFile = Path.GetFullPath(ruleFile);
        var fixtureFile = RuleDirectories.FixturePath(ruleFile);
        var diagnostics = new List<RuleDiagnostic>();
        // The fixtures are read while the rule compiles and loads: different code, so the two overlap well.
        var reading = File.Exists(fixtureFile) ? Task.Run(() => ReadCases(fixtureFile, _cache)) : null;
        var compilation = _factory.Compile(ruleFile);
        var probe = _factory.Load(compilation, diagnostics);
        if (probe is null)
            return new FixtureReport(ruleFile, fixtureFile, null, diagnostics, [], "the rule does not compile or load");
        try
        {
            if (reading is null)
                return new FixtureReport(ruleFile, fixtureFile, probe.Info.Id, diagnostics, [], $"no fixtures: expected {fixtureFile}");
            var (cases, badLines) = reading.GetAwaiter().GetResult();
            if (badLines.Count > 0)
                return new FixtureReport(ruleFile, fixtureFile, probe.Info.Id, diagnostics, [], $"{badLines.Count} bad fixture line(s)") { BadLines = badLines };
            string? problem = null;
            if (cases.Count == 0) problem = "the fixture file has no cases";
            else if (!cases.Any(c => c.Steps.Any(s => s.Fires)) || !cases.Any(c => c.Steps.Any(s => !s.Fires)))
                problem = "fixtures need at least one event that fires and one that does not";
            var results = cases.Select(c => RunCase(probe.Loaded, c, diagnostics)).ToList();
            return new FixtureReport(ruleFile, fixtureFile, probe.Info.Id, diagnostics, results, problem);
        }
        finally
        {
            probe.Unload();
        }
    }

    private FixtureCaseResult RunCase(LoadedRule loaded, FixtureCase fixtureCase, List<RuleDiagnostic> diagnostics)
    {
        var slot = _factory.NewSlot(loaded, FixtureHost, diagnostics);
        if (slot is null) return new FixtureCaseResult(fixtureCase.Name, fixtureCase.Line, false, "the rule failed to instantiate");
        var findings = new Findings();
        var publisher = new FirstFinding();
        RuleSlot[] slots = [slot];
        foreach (var step in fixtureCase.Steps)
        {
            publisher.Message = null;
            RuleEvaluation.Run(slots, step.Event, findings, publisher);
            var status = slot.Snapshot();
            if (status.Errors > 0)
                return Fail(fixtureCase, $"line {step.Line}: the rule failed: {status.LastError}");
            var (fired, firstMessage) = (publisher.Message is not null, publisher.Message);
            if (fired != step.Fires)
                return Fail(fixtureCase, step.Fires
                    ? $"line {step.Line}: expected the rule to fire, it did not"
                    : $"line {step.Line}: expected no finding, got: {firstMessage}");
        }
        return new FixtureCaseResult(fixtureCase.Name, fixtureCase.Line, true, null);
    }

    private sealed class FirstFinding : IFindingsPublisher
    {
        public string? Message;

        public void Publish(RuleSlot slot, MovePagesEvent evt, Findings findings) => Message ??= findings.Items[0].Message;
    }

    private static FixtureCaseResult Fail(FixtureCase c, string why) => new(c.Name, c.Line, false, why);

    private sealed record FixtureStep(int Line, bool Fires, MovePagesEvent Event);

    private sealed record FixtureCase(string Name, int Line, List<FixtureStep> Steps);

    /// <summary>Parses a fixture file; throws <see cref="FixtureFormatException"/> for its first bad line.</summary>
    public static int CountCases(string fixtureFile)
    {
        var (cases, badLines) = ReadCases(fixtureFile);
        return badLines.Count > 0 ? throw badLines[0] : cases.Count;
    }

    /// <summary>The case names of a fixture file in order, with the line each starts on (bad lines skipped).</summary>
    public static IReadOnlyList<(string Name, int Line)> CaseNames(string fixtureFile) =>
        ReadCases(fixtureFile).Cases.Select(c => (c.Name, c.Line)).ToList();

    // A valid fixture file's parsed events are cached by content hash, as compiled rules are: parsing JSON
    // through the protobuf schema is most of a warm `rules test` (its reflection is JIT-compiled per process).
    private static (List<FixtureCase> Cases, List<FixtureFormatException> BadLines) ReadCases(string file, RuleCache? cache = null)
    {
        var text = RuleFileText.Read(file);
        var key = cache is null ? null : FixtureCache.Key(text);
        if (key is not null && FixtureCache.Read(cache!, key) is { } cached) return (Group(cached), []);
        var (steps, badLines) = ParseSteps(file, text);
        if (key is not null && badLines.Count == 0) FixtureCache.Write(cache!, key, steps);
        return (Group(steps), badLines);
    }

    // Every line is read, so every bad one is reported at once, not only the first.
    private static (List<FixtureCache.Step> Steps, List<FixtureFormatException> BadLines) ParseSteps(string file, string text)
    {
        var steps = new List<FixtureCache.Step>();
        var badLines = new List<FixtureFormatException>();
        using var reader = new StringReader(text);
        foreach (var (lineNumber, line) in JsonLines.NonBlank(reader))
        {
            if (line is null)
            {
                badLines.Add(JsonLines.TooLong(file, lineNumber));
                continue;
            }
            try
            {
                var (name, fires, evt) = ParseLine(file, lineNumber, line);
                steps.Add(new FixtureCache.Step(name, lineNumber, fires, evt));
            }
            catch (FixtureFormatException ex)
            {
                badLines.Add(ex);
            }
        }
        return (steps, badLines);
    }

    private static List<FixtureCase> Group(IEnumerable<FixtureCache.Step> steps)
    {
        var cases = new List<FixtureCase>();
        foreach (var step in steps)
        {
            if (cases.Count == 0 || cases[^1].Name != step.Case) cases.Add(new FixtureCase(step.Case, step.Line, []));
            cases[^1].Steps.Add(new FixtureStep(step.Line, step.Fires, step.Event));
        }
        return cases;
    }

    private static readonly string[] LineFields = ["case", "fires", "event"];

    private static (string Name, bool Fires, MovePagesEvent Event) ParseLine(string file, int line, string text)
    {
        using (var document = JsonLines.ParseObject(file, line, text))
        {
            var root = document.RootElement;
            foreach (var property in root.EnumerateObject())
                if (!LineFields.Contains(property.Name))
                    throw new FixtureFormatException(file, line, property.Name.Length == 0 ? "\"\"" : property.Name, $"unknown field \"{property.Name}\"" +
                        (CompilerMessages.Suggestion(property.Name, LineFields) is { Length: > 0 } s ? s.Replace('\'', '"') : " (expected case, fires and event)"));
            var name = root.TryGetProperty("case", out var c) && c.ValueKind == JsonValueKind.String && c.GetString() is { Length: > 0 } n
                ? n
                : throw new FixtureFormatException(file, line, "case", "expected a non-empty string naming the case");
            var fires = root.TryGetProperty("fires", out var f) && f.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? f.GetBoolean()
                : throw new FixtureFormatException(file, line, "fires", "expected true or false");
            if (!root.TryGetProperty("event", out var e) || e.ValueKind != JsonValueKind.Object)
                throw new FixtureFormatException(file, line, "event", "expected a sentinel.v1.Event object (partial: omitted fields take the defaults)");
            var evt = new MovePagesEvent();
            try
            {
                FixtureEvents.Parse(e, "event", evt);
            }
            catch (FixtureFieldException ex)
            {
                throw FixtureFormatException.At(file, line, ex);
            }
            return (name, fires, evt);
        }
    }
}
