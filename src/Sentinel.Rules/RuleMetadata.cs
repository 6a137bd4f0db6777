using Sentinel.Events;
using Sentinel.Rules.Analyzers;

namespace Sentinel.Rules;

/// <summary>
/// The loader's view of <see cref="RuleMetadataChecks"/> (the analyzer's, so lint, editors and the loader share
/// one policy), with the agent's event catalog as the known events.
/// </summary>
internal static class RuleMetadata
{
    public static readonly IReadOnlyCollection<string> KnownEvents = [.. EventCatalog.All.Select(e => e.Name)];

    /// <summary>Every problem of <paramref name="info"/>, for metadata the compiler could not see as constants.</summary>
    public static List<string> Validate(RuleInfo info)
    {
        IEnumerable<string?> problems =
        [
            RuleMetadataChecks.CheckId(info.Id), RuleMetadataChecks.CheckRequired(nameof(info.Version), info.Version),
            RuleMetadataChecks.CheckRequired(nameof(info.Name), info.Name),
            RuleMetadataChecks.CheckRequired(nameof(info.Description), info.Description), RuleMetadataChecks.CheckSeverity((int)info.Severity),
            .. info.MitreTactics.Select(RuleMetadataChecks.CheckTactic), .. info.MitreTechniques.Select(RuleMetadataChecks.CheckTechnique),
            info.Events.Count == 0 ? RuleMetadataChecks.NoEvents : null, .. info.Events.Select(e => RuleMetadataChecks.CheckEvent(e, KnownEvents)),
        ];
        return [.. problems.OfType<string>()];
    }
}
