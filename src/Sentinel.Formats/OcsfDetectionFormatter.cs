using System.Text.Json;
using System.Text.Json.Nodes;
using Sentinel.Events;

namespace Sentinel.Formats;

/// <summary>
/// An OCSF 1.3 Detection Finding (class_uid 2004, category Findings, activity Create). One JSON object a line.
/// </summary>
public sealed class OcsfDetectionFormatter : IDetectionFormatter
{
    public const int ClassUid = 2004;
    public const int CategoryUid = 2;
    public const int ActivityCreate = 1;
    public const string SchemaVersion = "1.3.0";

    public string Name => "ocsf";

    public string Format(Detection d) => ToJson(d).ToJsonString(JsonOptions.Compact);

    public static JsonObject ToJson(Detection d)
    {
        var e = d.Event;
        var uid = SiemFields.FindingUid(d);
        var finding = new JsonObject
        {
            ["class_uid"] = ClassUid,
            ["class_name"] = "Detection Finding",
            ["category_uid"] = CategoryUid,
            ["category_name"] = "Findings",
            ["activity_id"] = ActivityCreate,
            ["activity_name"] = "Create",
            ["type_uid"] = ClassUid * 100 + ActivityCreate,
            ["type_name"] = "Detection Finding: Create",
            ["severity_id"] = SeverityId(d.Rule.Severity),
            ["severity"] = SeverityName(d.Rule.Severity),
            ["status_id"] = 1,
            ["status"] = "New",
            ["time"] = SiemFields.UnixMilliseconds(d.Time),
            ["message"] = d.Message,
            ["metadata"] = new JsonObject
            {
                ["version"] = SchemaVersion,
                ["uid"] = uid,
                ["product"] = new JsonObject
                {
                    ["name"] = SiemFields.Product, ["vendor_name"] = SiemFields.Vendor, ["version"] = SiemFields.ProductVersion,
                },
                ["log_name"] = "detections",
            },
            ["finding_info"] = new JsonObject
            {
                ["uid"] = uid,
                ["title"] = d.Rule.Name,
                ["desc"] = d.Message,
                ["created_time"] = SiemFields.UnixMilliseconds(d.Time),
                ["types"] = SiemFields.Strings(d.Rule.Tags),
                ["analytic"] = new JsonObject
                {
                    ["uid"] = d.Rule.Id, ["name"] = d.Rule.Name, ["version"] = d.Rule.Version,
                    ["type_id"] = 1, ["type"] = "Rule", ["desc"] = d.Rule.Description,
                },
                ["attacks"] = Attacks(d.Rule),
            },
            ["device"] = new JsonObject { ["hostname"] = d.Host, ["type_id"] = 1, ["type"] = "Server" },
            ["evidences"] = new JsonArray(new JsonObject
            {
                ["actor"] = new JsonObject { ["process"] = ActorProcess(e) },
                ["process"] = TargetProcess(e),
                ["data"] = SiemFields.CallDetails(e),
            }),
        };
        if (d.Sequence != 0) finding["metadata"]!["sequence"] = d.Sequence;
        if (d.IsFoldSummary)
        {
            // A fold summary: OCSF's own aggregation attributes, on the event and on the finding.
            finding["count"] = d.FoldCount;
            finding["start_time"] = SiemFields.UnixMilliseconds(d.FirstTime!.Value);
            finding["end_time"] = SiemFields.UnixMilliseconds(d.LastTime!.Value);
            finding["finding_info"]!["first_seen_time"] = SiemFields.UnixMilliseconds(d.FirstTime!.Value);
            finding["finding_info"]!["last_seen_time"] = SiemFields.UnixMilliseconds(d.LastTime!.Value);
        }
        if (d.Remediation is { } r)
        {
            // In-kernel response: OCSF's remediation, plus the security-control action and disposition.
            var taken = r.Result == "signalled";
            finding["remediation"] = new JsonObject { ["desc"] = $"{r.Action}: {r.Result} ({r.Path} path, {r.Detail})" };
            finding["action_id"] = taken ? 2 : 1;
            finding["action"] = taken ? "Denied" : "Allowed";
            (finding["disposition_id"], finding["disposition"]) = r.Result switch
            {
                "signalled" => ((JsonNode)2, (JsonNode)"Blocked"),
                "would_kill" => (15, "Detected"),
                _ => (16, "No Action"),
            };
        }
        if (d.HostId.Length > 0) finding["device"]!["uid"] = d.HostId;
        if (d.Fields.Count > 0)
            finding["unmapped"] = new JsonObject(d.Fields.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        if (SiemFields.Journal(d) is { } journal)
        {
            // OCSF has no attribute for the source journal: unmapped.sentinel, beside the findings' own fields.
            finding["unmapped"] ??= new JsonObject();
            finding["unmapped"]!["sentinel"] = journal;
        }
        return finding;
    }

    public static int SeverityId(Severity severity) => severity switch
    {
        Severity.Info => 1, Severity.Low => 2, Severity.Medium => 3, Severity.High => 4, Severity.Critical => 5, _ => 0,
    };

    private static string SeverityName(Severity severity) => severity switch
    {
        Severity.Info => "Informational", Severity.Unspecified => "Unknown", _ => severity.ToString(),
    };

    /// <summary>
    /// One attack per (technique, tactic) pair the rule declares, so no tactic or technique is dropped: SNT-0001's
    /// T1055 under both TA0005 and TA0004 gives two. Names come from the bundled ATT&amp;CK table.
    /// </summary>
    public static JsonArray Attacks(RuleInfo rule)
    {
        var attacks = new JsonArray();
        string?[] techniques = rule.MitreTechniques.Count > 0 ? [.. rule.MitreTechniques] : [null];
        string?[] tactics = rule.MitreTactics.Count > 0 ? [.. rule.MitreTactics] : [null];
        foreach (var technique in techniques)
        foreach (var tactic in tactics)
        {
            if (technique is null && tactic is null) continue;
            var attack = new JsonObject { ["version"] = MitreAttack.Version };
            if (tactic is not null) attack["tactic"] = Named(tactic, MitreAttack.TacticName(tactic));
            if (technique is not null)
            {
                var dot = technique.IndexOf('.');
                var parent = dot < 0 ? technique : technique[..dot];
                attack["technique"] = Named(parent, MitreAttack.TechniqueName(parent));
                if (dot >= 0) attack["sub_technique"] = Named(technique, MitreAttack.TechniqueName(technique));
            }
            attacks.Add(attack);
        }
        return attacks;
    }

    private static JsonObject Named(string id, string? name)
    {
        var node = new JsonObject { ["uid"] = id };
        if (name is not null) node["name"] = name;
        node["src_url"] = MitreAttack.Url(id);
        return node;
    }

    private static JsonObject ActorProcess(MovePagesEvent e)
    {
        var caller = e.Enrichment.Caller;
        var process = new JsonObject
        {
            ["pid"] = e.Pid,
            ["tid"] = e.Tid,
            ["name"] = e.Comm,
            ["user"] = new JsonObject { ["uid"] = e.Uid.ToString(), ["type_id"] = e.Uid == 0 ? 2 : 1 },
        };
        if (caller is not null)
        {
            process["uid"] = caller.EntityId;
            if (caller.ExePath.Length > 0) process["file"] = new JsonObject { ["path"] = caller.ExePath, ["name"] = Path.GetFileName(caller.ExePath), ["type_id"] = 1 };
            if (caller.Args.Count > 0) process["cmd_line"] = string.Join(' ', caller.Args);
            if (caller.ContainerId.Length > 0) process["container"] = new JsonObject { ["uid"] = caller.ContainerId };
        }
        var (parentPid, parent) = SiemFields.Parent(e);
        if (parentPid > 0)
        {
            var parentProcess = new JsonObject { ["pid"] = parentPid };
            if (parent is not null)
            {
                parentProcess["name"] = parent.Comm;
                parentProcess["uid"] = parent.EntityId;
                if (parent.ExePath.Length > 0) parentProcess["file"] = new JsonObject { ["path"] = parent.ExePath, ["name"] = Path.GetFileName(parent.ExePath), ["type_id"] = 1 };
            }
            process["parent_process"] = parentProcess;
        }
        return process;
    }

    private static JsonObject TargetProcess(MovePagesEvent e)
    {
        var target = new JsonObject { ["pid"] = e.EffectiveTargetPid };
        if (e.Enrichment.Target is { } t)
        {
            target["name"] = t.Comm;
            target["uid"] = t.EntityId;
            target["user"] = new JsonObject { ["uid"] = t.Uid.ToString() };
        }
        return target;
    }
}

internal static class JsonOptions
{
    public static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };
}
