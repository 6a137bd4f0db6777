using System.CommandLine;
using Sentinel.Events;

namespace Sentinel.Cli;

/// <summary>`sentinel events describe [EVENT]`: the event schema, from the definition the decoder uses.</summary>
internal static class EventsCommands
{
    public static Command Create()
    {
        var eventName = new Argument<string?>("event")
        {
            Description = "The event to describe (default: all events).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var describe = new Command("describe", "Print each argument's name, type and provenance tags.") { eventName };
        describe.SetAction(parse =>
        {
            var name = parse.GetValue(eventName);
            var definitions = name is null
                ? EventCatalog.All
                : [EventCatalog.Find(name) ?? throw new CliException(
                    $"unknown event '{name}' (known: {string.Join(", ", EventCatalog.All.Select(e => e.Name))})")];
            foreach (var definition in definitions)
                Console.Write(Describe(definition));
            return ExitCodes.Ok;
        });
        return new Command("events", "Inspect the event schema.") { describe };
    }

    public static string Describe(EventDefinition definition)
    {
        var w = new StringWriter();
        w.WriteLine($"{definition.Name}: {definition.Description}");
        w.WriteLine("syscall numbers: " + string.Join(", ", definition.SyscallNumbers.Select(kv => $"{kv.Key} {kv.Value}")));
        w.WriteLine();
        var rows = definition.Arguments.Select(a => (a.Name, a.Type, Tags: a.Tags.ToDisplay(), a.Note)).ToList();
        int nameWidth = Math.Max(4, rows.Max(r => r.Name.Length)), typeWidth = Math.Max(4, rows.Max(r => r.Type.Length)),
            tagWidth = Math.Max(4, rows.Max(r => r.Tags.Length));
        w.WriteLine($"{"ARG".PadRight(nameWidth)}  {"TYPE".PadRight(typeWidth)}  {"TAGS".PadRight(tagWidth)}  NOTE");
        foreach (var r in rows)
            w.WriteLine($"{r.Name.PadRight(nameWidth)}  {r.Type.PadRight(typeWidth)}  {r.Tags.PadRight(tagWidth)}  {r.Note}");
        w.WriteLine();
        w.WriteLine("Tags: K kernel-held; U read from user memory; TOCTOU user memory the kernel reads later; OPT may be NULL.");
        return w.ToString();
    }
}
