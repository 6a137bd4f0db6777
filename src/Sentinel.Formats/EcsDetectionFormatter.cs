using System.Text.Json.Nodes;
using Sentinel.Events;

namespace Sentinel.Formats;

/// <summary>An Elastic Common Schema (8.x) alert document: event.kind alert, rule.*, threat.*, process.*.</summary>
public sealed class EcsDetectionFormatter : IDetectionFormatter
{
    public const string EcsVersion = "8.11.0";

    public string Name => "ecs";

    public string Format(Detection d) => ToJson(d).ToJsonString(JsonOptions.Compact);

    private static string Timestamp(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public static JsonObject ToJson(Detection d)
    {
        var e = d.Event;
        var doc = new JsonObject
        {
            ["@timestamp"] = Timestamp(d.Time),
            ["ecs"] = new JsonObject { ["version"] = EcsVersion },
            ["message"] = d.Message,
            ["event"] = new JsonObject
            {
                ["kind"] = "alert",
                ["id"] = SiemFields.FindingUid(d),
                ["category"] = new JsonArray("process", "intrusion_detection"),
                ["type"] = new JsonArray("info"),
                ["action"] = "move_pages",
                ["outcome"] = e.Failed ? "failure" : "success",
                ["module"] = "sentinel",
                ["dataset"] = "sentinel.detection",
                ["provider"] = "sentinel",
                ["severity"] = OcsfDetectionFormatter.SeverityId(d.Rule.Severity),
                ["created"] = Timestamp(d.Time),
                ["duration"] = e.DurationNs,
            },
            ["rule"] = new JsonObject
            {
                ["id"] = d.Rule.Id,
                ["uuid"] = d.Rule.Id,
                ["name"] = d.Rule.Name,
                ["version"] = d.Rule.Version,
                ["description"] = d.Rule.Description,
                ["ruleset"] = "sentinel",
            },
            ["threat"] = Threat(d.Rule),
            ["process"] = Process(e),
            ["user"] = new JsonObject { ["id"] = e.Uid.ToString(), ["effective"] = new JsonObject { ["id"] = e.Euid.ToString() } },
            ["group"] = new JsonObject { ["id"] = e.Gid.ToString() },
            ["host"] = new JsonObject { ["hostname"] = d.Host, ["name"] = d.Host },
            ["log"] = new JsonObject { ["level"] = d.Rule.Severity.ToString().ToLowerInvariant() },
            ["observer"] = new JsonObject { ["vendor"] = SiemFields.Vendor, ["product"] = SiemFields.Product, ["version"] = SiemFields.ProductVersion, ["type"] = "edr" },
            ["tags"] = SiemFields.Strings(d.Rule.Tags),
        };
        var sentinel = new JsonObject { ["severity"] = d.Rule.Severity.ToString().ToLowerInvariant(), ["call"] = SiemFields.CallDetails(e) };
        if (d.Sequence != 0) sentinel["sequence"] = d.Sequence;
        if (SiemFields.Journal(d) is { } journal)
            foreach (var (key, value) in journal) sentinel[key] = value!.DeepClone();
        if (d.HostId.Length > 0) doc["host"]!["id"] = d.HostId;
        if (d.AgentSequence != 0) doc["event"]!["sequence"] = d.AgentSequence;
        if (d.Rule.MitreTactics.Count > 0)
            doc["rule"]!["category"] = MitreAttack.TacticName(d.Rule.MitreTactics[0]) ?? d.Rule.MitreTactics[0];
        if (d.IsFoldSummary)
        {
            doc["event"]!["start"] = Timestamp(d.FirstTime!.Value);
            doc["event"]!["end"] = Timestamp(d.LastTime!.Value);
            sentinel["fold"] = new JsonObject { ["count"] = d.FoldCount };
        }
        if (d.Fields.Count > 0) sentinel["fields"] = new JsonObject(d.Fields.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        doc["sentinel"] = sentinel;
        if (e.Enrichment.Caller is { ContainerId.Length: > 0 } c) doc["container"] = new JsonObject { ["id"] = c.ContainerId };
        return doc;
    }

    /// <summary>threat.*: parallel id/name/reference arrays per ECS, every tactic and technique the rule declares.</summary>
    private static JsonObject Threat(RuleInfo rule)
    {
        var threat = new JsonObject { ["framework"] = "MITRE ATT&CK" };
        if (rule.MitreTactics.Count > 0) threat["tactic"] = Named(rule.MitreTactics, MitreAttack.TacticName);
        var techniques = rule.MitreTechniques.Select(t => t.Split('.')[0]).Distinct().ToList();
        if (techniques.Count > 0)
        {
            var technique = Named(techniques, MitreAttack.TechniqueName);
            var subs = rule.MitreTechniques.Where(t => t.Contains('.')).ToList();
            if (subs.Count > 0) technique["subtechnique"] = Named(subs, MitreAttack.TechniqueName);
            threat["technique"] = technique;
        }
        return threat;
    }

    // An id without a bundled name keeps its place in the parallel arrays under its id.
    private static JsonObject Named(IReadOnlyList<string> ids, Func<string, string?> name) => new()
    {
        ["id"] = SiemFields.Strings(ids),
        ["name"] = SiemFields.Strings(ids.Select(id => name(id) ?? id)),
        ["reference"] = SiemFields.Strings(ids.Select(MitreAttack.Url)),
    };

    private static JsonObject Process(MovePagesEvent e)
    {
        var process = new JsonObject
        {
            ["pid"] = e.Pid,
            ["name"] = e.Comm,
            ["thread"] = new JsonObject { ["id"] = e.Tid },
            ["user"] = new JsonObject { ["id"] = e.Uid.ToString() },
        };
        if (e.Enrichment.Caller is { } caller)
        {
            process["entity_id"] = caller.EntityId;
            if (caller.ExePath.Length > 0) process["executable"] = caller.ExePath;
            if (caller.Args.Count > 0)
            {
                process["args"] = SiemFields.Strings(caller.Args);
                process["command_line"] = string.Join(' ', caller.Args);
            }
        }
        var (parentPid, parent) = SiemFields.Parent(e);
        if (parentPid > 0)
        {
            var parentNode = new JsonObject { ["pid"] = parentPid };
            if (parent is not null)
            {
                parentNode["name"] = parent.Comm;
                parentNode["entity_id"] = parent.EntityId;
                if (parent.ExePath.Length > 0) parentNode["executable"] = parent.ExePath;
            }
            process["parent"] = parentNode;
        }
        return process;
    }
}
