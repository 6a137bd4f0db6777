using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.TestSupport;

namespace Sentinel.Formats.Tests;

/// <summary>Every format, for every kind of detection, against the bundled OCSF schema, ECS reference and CEF rules.</summary>
public sealed class SchemaConformanceTests
{
    public static TheoryData<string> Kinds => ["enriched", "bare", "fold summary", "sub-technique", "no mitre", "hostile", "root caller", "journaled"];

    internal static Detection Make(string kind) => kind switch
    {
        "enriched" => Samples.Detection(),
        "bare" => Samples.Detection(enriched: false, sequence: 0),
        "fold summary" => Samples.Detection() with
        {
            FoldCount = 9, FirstTime = DateTimeOffset.FromUnixTimeMilliseconds(1_760_000_000_000),
            LastTime = DateTimeOffset.FromUnixTimeMilliseconds(1_760_000_000_123),
        },
        "sub-technique" => Samples.Detection() with
        {
            Rule = Samples.Detection().Rule with { MitreTactics = ["TA0005"], MitreTechniques = ["T1562.001"] },
        },
        "no mitre" => Samples.Detection() with { Rule = Samples.Detection().Rule with { MitreTactics = [], MitreTechniques = [], Tags = [] } },
        "hostile" => Samples.Detection(name: "a|b\\c\nd", ruleId: "SNT-0009", message: "x=y\\z\r\n|p") with
        {
            Fields = new Dictionary<string, string> { ["a b=c"] = "v=1\\2\n", ["empty"] = "" },
            Host = "host with space",
        },
        "root caller" => Root(),
        "journaled" => Journaled(),
        _ => throw new ArgumentException(kind),
    };

    // As the journal hands it to printers and streams: numbered, with its journal, host and agent sequence.
    internal static Detection Journaled() => Samples.Detection(sequence: 9001) with
    {
        JournalId = "3f2b7c9e-0d4a-4c55-9a61-2b8e7d1f0c42", HostId = "web-01", AgentSequence = 77,
    };

    private static Detection Root()
    {
        var d = Samples.Detection(severity: Severity.Critical);
        d.Event.Uid = 0;
        return d;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Ocsf_conforms_to_the_class_2004_schema(string kind)
    {
        var finding = JsonNode.Parse(DetectionFormats.Get("ocsf").Format(Make(kind)))!;
        Assert.Empty(OcsfSchema.Validate(finding));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Ecs_uses_only_reference_fields_with_their_types(string kind)
    {
        var doc = JsonNode.Parse(DetectionFormats.Get("ecs").Format(Make(kind)))!.AsObject();
        Assert.Empty(EcsReference.Validate(doc));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Cef_follows_the_escaping_rules(string kind)
    {
        var line = DetectionFormats.Get("cef").Format(Make(kind));
        Assert.Empty(CefSpec.Validate(line));
    }

    [Fact]
    public void The_validators_catch_what_they_check()
    {
        // OCSF: a missing required attribute, a value outside an enum, a wrong type, a caption that disagrees, an unknown attribute.
        var finding = JsonNode.Parse(DetectionFormats.Get("ocsf").Format(Samples.Detection()))!.AsObject();
        finding.Remove("time");
        finding["severity_id"] = 7;
        finding["finding_info"]!["created_time"] = "yesterday";
        finding["activity_name"] = "Update";
        finding["finding_info"]!["attacks"]![0]!["tactics"] = new JsonArray();
        var errors = OcsfSchema.Validate(finding);
        Assert.Contains(errors, e => e.Contains("'time' is missing"));
        Assert.Contains(errors, e => e.StartsWith("severity_id: 7 is not one of"));
        Assert.Contains(errors, e => e.StartsWith("finding_info.created_time: expected timestamp_t"));
        Assert.Contains(errors, e => e.Contains("activity_name: 'Update' is not the caption"));
        Assert.Contains(errors, e => e.StartsWith("finding_info.attacks[0].tactics: not an attribute"));

        var doc = JsonNode.Parse(DetectionFormats.Get("ecs").Format(Samples.Detection()))!.AsObject();
        doc["event"]!["kind"] = "finding";
        doc["process"]!["pid"] = "4242";
        doc["rule"]!["severity"] = "high";
        doc["tags"] = "numa";
        var ecsErrors = EcsReference.Validate(doc);
        Assert.Contains("event.kind: 'finding' is not an allowed value", ecsErrors);
        Assert.Contains(ecsErrors, e => e.StartsWith("process.pid: \"4242\" is not an ECS long"));
        Assert.Contains("rule.severity: not an ECS field", ecsErrors);
        Assert.Contains("tags: ECS expects an array", ecsErrors);

        Assert.Contains("header: 5 unescaped pipes, expected 7", CefSpec.Validate("CEF:0|a|b|c|d|e"));
        Assert.Contains("extension msg: unescaped '='", CefSpec.Validate("CEF:0|a|b|c|d|e|5|msg=a=b"));
        Assert.Contains("raw line break in the record", CefSpec.Validate("CEF:0|a|b|c|d|e|5|msg=a\nb"));
        Assert.Contains("header: bad escape at 7", CefSpec.Validate("CEF:0|a\\b|c|d|e|f|5|msg=a"));
    }
}

/// <summary>OCSF attacks, ATT&amp;CK names, the fold summary's aggregation attributes and the description.</summary>
public sealed class MitreAndFoldingFormatTests
{
    [Fact]
    public void Snt_0001_declares_two_tactics_and_the_finding_carries_both_with_names()
    {
        var rule = Samples.Detection().Rule with { Id = "SNT-0001", MitreTactics = ["TA0005", "TA0004"], MitreTechniques = ["T1055"] };
        var attacks = OcsfDetectionFormatter.Attacks(rule);
        Assert.Equal(2, attacks.Count);
        Assert.All(attacks, a => Assert.Equal("T1055", (string)a!["technique"]!["uid"]!));
        Assert.All(attacks, a => Assert.Equal("Process Injection", (string)a!["technique"]!["name"]!));
        Assert.Equal(["Defense Evasion", "Privilege Escalation"], attacks.Select(a => (string)a!["tactic"]!["name"]!));
        Assert.Equal("https://attack.mitre.org/tactics/TA0005/", (string)attacks[0]!["tactic"]!["src_url"]!);
    }

    [Fact]
    public void A_sub_technique_is_split_into_technique_and_sub_technique()
    {
        var rule = Samples.Detection().Rule with { MitreTactics = ["TA0005"], MitreTechniques = ["T1562.001"] };
        var attack = OcsfDetectionFormatter.Attacks(rule)[0]!;
        Assert.Equal("T1562", (string)attack["technique"]!["uid"]!);
        Assert.Equal("Impair Defenses", (string)attack["technique"]!["name"]!);
        Assert.Equal("T1562.001", (string)attack["sub_technique"]!["uid"]!);
        Assert.Equal("https://attack.mitre.org/techniques/T1562/001/", (string)attack["sub_technique"]!["src_url"]!);
    }

    [Fact]
    public void Every_attack_id_the_built_in_rules_declare_has_a_bundled_name()
    {
        var ids = Directory.GetFiles(RepoPaths.Rules, "*.csx")
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), "\"(TA?\\d{4}(?:\\.\\d{3})?)\"").Select(m => m.Groups[1].Value))
            .Distinct().ToList();
        Assert.Contains("TA0005", ids);
        Assert.All(ids, id => Assert.NotNull(id.StartsWith("TA") ? MitreAttack.TacticName(id) : MitreAttack.TechniqueName(id)));
    }

    [Fact]
    public void Ecs_threat_lists_every_tactic_and_technique_with_names_in_parallel_arrays()
    {
        var rule = Samples.Detection().Rule with { MitreTactics = ["TA0005", "TA0004"], MitreTechniques = ["T1055", "T1562.001"] };
        var threat = JsonNode.Parse(DetectionFormats.Get("ecs").Format(Samples.Detection() with { Rule = rule }))!["threat"]!;
        Assert.Equal(["TA0005", "TA0004"], threat["tactic"]!["id"]!.AsArray().Select(n => (string)n!));
        Assert.Equal(["Defense Evasion", "Privilege Escalation"], threat["tactic"]!["name"]!.AsArray().Select(n => (string)n!));
        Assert.Equal(["T1055", "T1562"], threat["technique"]!["id"]!.AsArray().Select(n => (string)n!));
        Assert.Equal(["Process Injection", "Impair Defenses"], threat["technique"]!["name"]!.AsArray().Select(n => (string)n!));
        Assert.Equal("Disable or Modify Tools", (string)threat["technique"]!["subtechnique"]!["name"]![0]!);
    }

    [Fact]
    public void A_fold_summary_carries_its_count_and_span_in_every_format()
    {
        var d = SchemaConformanceTests.Make("fold summary");
        var ocsf = JsonNode.Parse(DetectionFormats.Get("ocsf").Format(d))!;
        Assert.Equal(9, (int)ocsf["count"]!);
        Assert.Equal(1_760_000_000_000, (long)ocsf["start_time"]!);
        Assert.Equal(1_760_000_000_123, (long)ocsf["end_time"]!);
        Assert.Equal(1_760_000_000_000, (long)ocsf["finding_info"]!["first_seen_time"]!);

        var ecs = JsonNode.Parse(DetectionFormats.Get("ecs").Format(d))!;
        Assert.Equal(9, (int)ecs["sentinel"]!["fold"]!["count"]!);
        Assert.Equal("2025-10-09T08:53:20.0000000Z", (string)ecs["event"]!["start"]!);
        Assert.Equal("2025-10-09T08:53:20.1230000Z", (string)ecs["event"]!["end"]!);

        var cef = CefParser.Extension(DetectionFormats.Get("cef").Format(d));
        Assert.Equal(("9", "1760000000000", "1760000000123"), (cef["cnt"], cef["start"], cef["end"]));

        // A plain detection says nothing about folding.
        var plain = JsonNode.Parse(DetectionFormats.Get("ocsf").Format(Samples.Detection()))!;
        Assert.Null(plain["count"]);
        Assert.DoesNotContain("cnt", CefParser.Extension(DetectionFormats.Get("cef").Format(Samples.Detection())).Keys);
    }

    [Fact]
    public void Every_format_carries_the_journal_id_host_id_and_agent_sequence_and_a_replay_none()
    {
        // The stream path: the detection crosses the wire as sentinel.v1.Detection first.
        var d = DetectionConverter.FromProto(DetectionConverter.ToProto(SchemaConformanceTests.Journaled()));
        const string journal = "3f2b7c9e-0d4a-4c55-9a61-2b8e7d1f0c42";

        var ocsf = JsonNode.Parse(DetectionFormats.Get("ocsf").Format(d))!;
        Assert.Equal((journal, "web-01", 77L), ((string)ocsf["unmapped"]!["sentinel"]!["journal_id"]!,
            (string)ocsf["unmapped"]!["sentinel"]!["host_id"]!, (long)ocsf["unmapped"]!["sentinel"]!["agent_sequence"]!));
        Assert.Equal("web-01", (string)ocsf["device"]!["uid"]!);
        Assert.Equal("systemd", (string)ocsf["unmapped"]!["target_comm"]!); // the findings' own fields stay where they were
        Assert.Equal(9001L, (long)ocsf["metadata"]!["sequence"]!);

        var ecs = JsonNode.Parse(DetectionFormats.Get("ecs").Format(d))!;
        Assert.Equal((journal, "web-01", 77L), ((string)ecs["sentinel"]!["journal_id"]!, (string)ecs["host"]!["id"]!, (long)ecs["event"]!["sequence"]!));
        Assert.Equal(77L, (long)ecs["sentinel"]!["agent_sequence"]!);

        var cef = CefParser.Extension(DetectionFormats.Get("cef").Format(d));
        Assert.Equal((journal, "web-01", "agentSequence", "77"), (cef["sentinelJournalId"], cef["deviceExternalId"], cef["cn3Label"], cef["cn3"]));

        var json = JsonNode.Parse(DetectionFormats.Get("json").Format(d))!;
        Assert.Equal((journal, "web-01", "77"), ((string)json["journalId"]!, (string)json["hostId"]!, (string)json["agentSequence"]!));

        // The identity does not enter the finding id: the same detection replayed has the same uid.
        var replayed = Samples.Detection(sequence: 9001);
        Assert.Equal((string)ocsf["finding_info"]!["uid"]!, (string)JsonNode.Parse(DetectionFormats.Get("ocsf").Format(replayed))!["finding_info"]!["uid"]!);
        var replay = JsonNode.Parse(DetectionFormats.Get("ocsf").Format(replayed))!;
        Assert.Null(replay["unmapped"]!["sentinel"]);
        Assert.Null(replay["device"]!["uid"]);
        Assert.Null(JsonNode.Parse(DetectionFormats.Get("ecs").Format(replayed))!["sentinel"]!["journal_id"]);
        Assert.DoesNotContain("sentinelJournalId", CefParser.Extension(DetectionFormats.Get("cef").Format(replayed)).Keys);
    }

    [Fact]
    public void The_rule_description_survives_the_wire_so_streamed_ocsf_and_ecs_carry_it()
    {
        var streamed = DetectionConverter.FromProto(DetectionConverter.ToProto(Samples.Detection()));
        Assert.Equal("Flags MOVE_ALL from an unprivileged caller.", streamed.Rule.Description);
        var ocsf = JsonNode.Parse(DetectionFormats.Get("ocsf").Format(streamed))!;
        Assert.Equal("Flags MOVE_ALL from an unprivileged caller.", (string)ocsf["finding_info"]!["analytic"]!["desc"]!);
        var ecs = JsonNode.Parse(DetectionFormats.Get("ecs").Format(streamed))!;
        Assert.Equal("Flags MOVE_ALL from an unprivileged caller.", (string)ecs["rule"]!["description"]!);
    }

    [Fact]
    public void Fold_fields_survive_the_wire()
    {
        var d = SchemaConformanceTests.Make("fold summary");
        var back = DetectionConverter.FromProto(DetectionConverter.ToProto(d));
        Assert.Equal((9u, d.FirstTime, d.LastTime), (back.FoldCount, back.FirstTime, back.LastTime));
        var plain = DetectionConverter.FromProto(DetectionConverter.ToProto(Samples.Detection()));
        Assert.Equal((1u, false), (plain.FoldCount, plain.IsFoldSummary));
    }
}

/// <summary>finding_info.uid: the same whether the detection is formatted at replay, at run or from the stream.</summary>
public sealed class FindingIdentityTests
{
    private static string Uid(Detection d) => (string)JsonNode.Parse(DetectionFormats.Get("ocsf").Format(d))!["finding_info"]!["uid"]!;

    [Fact]
    public void Replay_run_and_stream_give_the_same_uid()
    {
        var replayed = Samples.Detection(sequence: 0) with { Host = "analyst-laptop" };     // replay: no sequence, another host
        var run = Samples.Detection(sequence: 42);                                             // run: numbered by the journal
        var streamed = DetectionConverter.FromProto(DetectionConverter.ToProto(run));          // stream: through the wire
        Assert.Equal(Uid(run), Uid(replayed));
        Assert.Equal(Uid(run), Uid(streamed));
        // ECS and CEF carry the same identity.
        Assert.Equal(Uid(run), (string)JsonNode.Parse(DetectionFormats.Get("ecs").Format(streamed))!["event"]!["id"]!);
        Assert.Equal(Uid(run), CefParser.Extension(DetectionFormats.Get("cef").Format(replayed))["cs6"]);
    }

    [Fact]
    public void Different_findings_get_different_uids()
    {
        var d = Samples.Detection();
        var laterEvent = Samples.Detection();
        laterEvent.Event.TimeUnixNs += 1;
        var otherThread = Samples.Detection();
        otherThread.Event.Tid += 1;
        var uids = new[]
        {
            Uid(d), Uid(laterEvent), Uid(otherThread), Uid(d with { Rule = d.Rule with { Id = "SNT-0003" } }),
            Uid(d with { Message = "another finding on the same event" }),
            Uid(d with { Fields = new Dictionary<string, string> { ["index"] = "1" } }),
            Uid(SchemaConformanceTests.Make("fold summary")),
        };
        Assert.Equal(uids.Length, uids.Distinct().Count());
        Assert.All(uids, u => Assert.True(Guid.TryParse(u, out _)));
    }
}
