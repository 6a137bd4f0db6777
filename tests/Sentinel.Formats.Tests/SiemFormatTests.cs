using System.Text.Json.Nodes;
using Sentinel.Events;

namespace Sentinel.Formats.Tests;

public sealed class OcsfTests
{
    private static JsonNode Parse(Detection d) => JsonNode.Parse(DetectionFormats.Get("ocsf").Format(d))!;

    [Fact]
    public void Is_a_detection_finding_with_the_required_classification()
    {
        var f = Parse(Samples.Detection());
        Assert.Equal(2004, (int)f["class_uid"]!);
        Assert.Equal(2, (int)f["category_uid"]!);
        Assert.Equal(1, (int)f["activity_id"]!);
        Assert.Equal(200401, (int)f["type_uid"]!);
        Assert.Equal(4, (int)f["severity_id"]!);
        Assert.Equal(1_760_000_000_123, (long)f["time"]!);
        Assert.Equal("Sentinel", (string)f["metadata"]!["product"]!["name"]!);
        Assert.Equal("Sentinel", (string)f["metadata"]!["product"]!["vendor_name"]!);
        Assert.False(string.IsNullOrEmpty((string?)f["metadata"]!["version"]));
    }

    [Fact]
    public void Finding_info_names_the_rule_as_analytic_and_the_attacks()
    {
        var info = Parse(Samples.Detection())["finding_info"]!;
        Assert.True(Guid.TryParse((string)info["uid"]!, out _));
        Assert.Equal("MOVE_ALL probing", (string)info["title"]!);
        Assert.Equal("Rule", (string)info["analytic"]!["type"]!);
        Assert.Equal(1, (int)info["analytic"]!["type_id"]!);
        Assert.Equal("SNT-0002", (string)info["analytic"]!["uid"]!);
        // Every (technique, tactic) pair: 2 techniques x 2 tactics.
        var attacks = info["attacks"]!.AsArray();
        Assert.Equal(
            ["T1068/TA0004", "T1068/TA0007", "T1057/TA0004", "T1057/TA0007"],
            attacks.Select(a => $"{a!["technique"]!["uid"]}/{a["tactic"]!["uid"]}"));
        Assert.Equal("Exploitation for Privilege Escalation", (string)attacks[0]!["technique"]!["name"]!);
        Assert.Equal("Privilege Escalation", (string)attacks[0]!["tactic"]!["name"]!);
        Assert.Equal("Discovery", (string)attacks[1]!["tactic"]!["name"]!);
        Assert.Equal("Process Discovery", (string)attacks[2]!["technique"]!["name"]!);
    }

    [Fact]
    public void Evidences_carry_the_actor_process_with_its_parent()
    {
        var evidence = Parse(Samples.Detection())["evidences"]![0]!;
        var actor = evidence["actor"]!["process"]!;
        Assert.Equal(4242, (int)actor["pid"]!);
        Assert.Equal("exploit", (string)actor["name"]!);
        Assert.Equal("/tmp/exploit", (string)actor["file"]!["path"]!);
        Assert.Equal("1000", (string)actor["user"]!["uid"]!);
        Assert.Equal(4000, (int)actor["parent_process"]!["pid"]!);
        Assert.Equal("bash", (string)actor["parent_process"]!["name"]!);
        Assert.Equal("systemd", (string)evidence["process"]!["name"]!);
        Assert.Equal("EPERM", (string)evidence["data"]!["errno"]!);
    }

    [Theory]
    [InlineData(Severity.Info, 1)]
    [InlineData(Severity.Low, 2)]
    [InlineData(Severity.Medium, 3)]
    [InlineData(Severity.Critical, 5)]
    [InlineData(Severity.Unspecified, 0)]
    public void Severity_id_follows_the_ocsf_enum(Severity severity, int id) =>
        Assert.Equal(id, (int)Parse(Samples.Detection(severity))["severity_id"]!);
}

public sealed class EcsTests
{
    private static JsonNode Parse(Detection d) => JsonNode.Parse(DetectionFormats.Get("ecs").Format(d))!;

    [Fact]
    public void Is_an_alert_with_rule_and_threat_fields()
    {
        var doc = Parse(Samples.Detection());
        Assert.Equal("alert", (string)doc["event"]!["kind"]!);
        Assert.Equal("2025-10-09T08:53:20.1230000Z", (string)doc["@timestamp"]!);
        Assert.Equal("SNT-0002", (string)doc["rule"]!["id"]!);
        Assert.Equal("MOVE_ALL probing", (string)doc["rule"]!["name"]!);
        Assert.Equal("1.0.0", (string)doc["rule"]!["version"]!);
        Assert.Equal("MITRE ATT&CK", (string)doc["threat"]!["framework"]!);
        Assert.Equal("T1068", (string)doc["threat"]!["technique"]!["id"]![0]!);
        Assert.Equal("Privilege Escalation", (string)doc["threat"]!["tactic"]!["name"]![0]!);
        Assert.Equal("TA0004", (string)doc["threat"]!["tactic"]!["id"]![0]!);
        Assert.Equal("Discovery", (string)doc["threat"]!["tactic"]!["name"]![1]!);
        Assert.False(string.IsNullOrEmpty((string?)doc["ecs"]!["version"]));
    }

    [Fact]
    public void Process_carries_the_caller_and_its_parent_where_known()
    {
        var process = Parse(Samples.Detection())["process"]!;
        Assert.Equal(4242, (int)process["pid"]!);
        Assert.Equal("/tmp/exploit", (string)process["executable"]!);
        Assert.Equal("--pid", (string)process["args"]![1]!);
        Assert.Equal(4000, (int)process["parent"]!["pid"]!);
        Assert.Equal("/usr/bin/bash", (string)process["parent"]!["executable"]!);
    }

    [Fact]
    public void Without_the_process_tree_the_parent_is_still_the_probe_ppid()
    {
        var process = Parse(Samples.Detection(enriched: false))["process"]!;
        Assert.Equal(4000, (int)process["parent"]!["pid"]!);
        Assert.Null(process["parent"]!["executable"]);
        Assert.Null(process["executable"]);
    }
}

public sealed class CefTests
{
    private static string Format(Detection d) => DetectionFormats.Get("cef").Format(d);

    [Fact]
    public void Has_the_seven_field_header()
    {
        var line = Format(Samples.Detection());
        Assert.StartsWith("CEF:0|Sentinel|Sentinel|", line);
        var header = CefParser.Header(line);
        Assert.Equal(["CEF:0", "Sentinel", "Sentinel", header[3], "SNT-0002", "MOVE_ALL probing", "8"], header[..7]);
    }

    [Fact]
    public void Header_escapes_pipes_and_backslashes()
    {
        var line = Format(Samples.Detection(name: @"a|b\c", ruleId: @"X|1"));
        Assert.Contains(@"|X\|1|a\|b\\c|8|", line);
        var header = CefParser.Header(line);
        Assert.Equal("X|1", header[4]);
        Assert.Equal(@"a|b\c", header[5]);
    }

    [Fact]
    public void Extension_escapes_equals_backslash_and_newlines_and_round_trips()
    {
        var message = "line1\nline2\r\nk=v path=C:\\x | pipe";
        var line = Format(Samples.Detection(message: message));
        Assert.DoesNotContain('\n', line);
        Assert.Contains(@"msg=line1\nline2\r\nk\=v path\=C:\\x | pipe ", line);
        var ext = CefParser.Extension(line);
        Assert.Equal(message, ext["msg"]);
        Assert.Equal("a=b|c", ext["sentinelWhy"]);
        Assert.Equal("4242", ext["spid"]);
        Assert.Equal("42", ext["externalId"]);
        Assert.Equal("T1068,T1057", ext["cs2"]);
        Assert.Equal("1760000000123", ext["rt"]);
    }

    [Theory]
    [InlineData(Severity.Unspecified, 0)]
    [InlineData(Severity.Info, 1)]
    [InlineData(Severity.Low, 3)]
    [InlineData(Severity.Medium, 5)]
    [InlineData(Severity.High, 8)]
    [InlineData(Severity.Critical, 10)]
    public void Severity_is_0_to_10(Severity severity, int expected) =>
        Assert.Equal(expected.ToString(), CefParser.Header(Format(Samples.Detection(severity)))[6]);
}

/// <summary>An independent reading of the CEF spec, to check the formatter against.</summary>
internal static class CefParser
{
    public static string[] Header(string line)
    {
        var fields = new List<string>();
        var current = new System.Text.StringBuilder();
        var i = 0;
        for (; i < line.Length && fields.Count < 7; i++)
        {
            if (line[i] == '\\' && i + 1 < line.Length) { current.Append(line[++i]); continue; }
            if (line[i] == '|') { fields.Add(current.ToString()); current.Clear(); continue; }
            current.Append(line[i]);
        }
        fields.Add(line[i..]); // the extension
        return fields.ToArray();
    }

    public static Dictionary<string, string> Extension(string line)
    {
        var ext = Header(line)[7];
        var result = new Dictionary<string, string>();
        // key=value pairs; a value runs until the next unescaped " key=".
        var matches = System.Text.RegularExpressions.Regex.Matches(ext, @"(?:^| )([A-Za-z0-9]+)=((?:[^\\=]|\\.)*?)(?= [A-Za-z0-9]+=|$)");
        foreach (System.Text.RegularExpressions.Match m in matches)
            result[m.Groups[1].Value] = Unescape(m.Groups[2].Value);
        return result;
    }

    private static string Unescape(string value)
    {
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != '\\' || i + 1 == value.Length) { sb.Append(value[i]); continue; }
            var next = value[++i];
            sb.Append(next switch { 'n' => '\n', 'r' => '\r', _ => next });
        }
        return sb.ToString();
    }
}
