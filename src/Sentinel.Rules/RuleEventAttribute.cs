using Sentinel.Rules;

// The agent's event catalog, as metadata: editors and `dotnet build` run the rule analyzer inside the compiler,
// where the catalog's code cannot run, so the analyzer reads these from the rule API it references. A test
// keeps them equal to EventCatalog.All.
[assembly: RuleEvent("move_pages")]

namespace Sentinel.Rules;

/// <summary>An event name a rule may declare in <c>RuleInfo.Events</c>: one per event of the agent's catalog.</summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class RuleEventAttribute(string name) : Attribute
{
    /// <summary>The event's name, e.g. <c>move_pages</c>.</summary>
    public string Name { get; } = name;
}
