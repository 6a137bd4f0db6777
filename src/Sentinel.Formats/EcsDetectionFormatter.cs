using System.Text.Json.Nodes;
using Sentinel.Events;

namespace Sentinel.Formats;

/// <summary>An Elastic Common Schema (8.x) alert document: event.kind alert, rule.*, threat.*, process.*.</summary>
public sealed class EcsDetectionFormatter : IDetectionFormatter
{
    public const string EcsVersion = "8.11.0";

    public string Name => "ecs";

    public string Format(Detection d) => ToJson(d).ToJsonString(JsonOptions.Compact);

    public static JsonObject ToJson(Detection d)
    {
        var e = d.Event;
        var doc = new JsonObject
        {
            ["@timestamp"] = d.Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'"),
            ["ecs"] = new JsonObject { ["version"] = EcsVersion },
            ["message"] = d.Message,
            ["event"] = new JsonObject
            {
                ["kind"] = "alert",
                ["category"] = new JsonArray("process", "intrusion_detection"),
                ["type"] = new JsonArray("info"),
                ["action"] = "move_pages",
                ["outcome"] = e.Failed ? "failure" : "success",
                ["module"] = "sentinel",
                ["dataset"] = "sentinel.detection",
                ["provider"] = "sentinel",
                ["severity"] = OcsfDetectionFormatter.SeverityId(d.Rule.Severity),
                ["created"] = d.Time.UtcDateTime.ToString("O"),
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
                ["category"] = d.Rule.MitreTactics.FirstOrDefault() ?? "",
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
        var sentinel = new JsonObject { ["sequence"] = d.Sequence, ["severity"] = d.Rule.Severity.ToString().ToLowerInvariant(), ["call"] = SiemFields.CallDetails(e) };
        if (d.Fields.Count > 0) sentinel["fields"] = new JsonObject(d.Fields.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        doc["sentinel"] = sentinel;
        if (e.Enrichment.Caller is { ContainerId.Length: > 0 } c) doc["container"] = new JsonObject { ["id"] = c.ContainerId };
        return doc;
    }

    private static JsonObject Threat(RuleInfo rule)
    {
        var threat = new JsonObject { ["framework"] = "MITRE ATT&CK" };
        if (rule.MitreTactics.Count > 0)
        {
            var tactic = new JsonObject { ["name"] = SiemFields.Strings(rule.MitreTactics.Where(t => !SiemFields.IsTacticId(t))) };
            var ids = rule.MitreTactics.Where(SiemFields.IsTacticId).ToList();
            if (ids.Count > 0) tactic["id"] = SiemFields.Strings(ids);
            threat["tactic"] = tactic;
        }
        if (rule.MitreTechniques.Count > 0)
        {
            var technique = new JsonObject { ["id"] = SiemFields.Strings(rule.MitreTechniques.Where(SiemFields.IsTechniqueId)) };
            var names = rule.MitreTechniques.Where(t => !SiemFields.IsTechniqueId(t)).ToList();
            if (names.Count > 0) technique["name"] = SiemFields.Strings(names);
            threat["technique"] = technique;
        }
        return threat;
    }

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
