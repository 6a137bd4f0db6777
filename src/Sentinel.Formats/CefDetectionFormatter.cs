using System.Text;
using Sentinel.Events;

namespace Sentinel.Formats;

/// <summary>
/// ArcSight CEF: <c>CEF:0|Sentinel|Sentinel|version|rule id|name|0-10|extension</c>. Header fields escape \ and |;
/// extension values escape \ and = and encode newlines as \n and \r.
/// </summary>
public sealed class CefDetectionFormatter : IDetectionFormatter
{
    public string Name => "cef";

    public string Format(Detection d)
    {
        var e = d.Event;
        var sb = new StringBuilder(512);
        sb.Append("CEF:0|").Append(Header(SiemFields.Vendor)).Append('|').Append(Header(SiemFields.Product)).Append('|')
          .Append(Header(SiemFields.ProductVersion)).Append('|').Append(Header(d.Rule.Id)).Append('|')
          .Append(Header(d.Rule.Name)).Append('|').Append(Severity(d.Rule.Severity)).Append('|');

        var ext = new List<(string Key, string Value)>
        {
            ("rt", SiemFields.UnixMilliseconds(d.Time).ToString()),
            ("msg", d.Message),
            ("dvchost", d.Host),
            ("spid", e.Pid.ToString()),
            ("sproc", e.Comm),
            ("suid", e.Uid.ToString()),
            ("dpid", e.EffectiveTargetPid.ToString()),
            ("act", "move_pages"),
            ("outcome", e.Failed ? "failure" : "success"),
            ("cs1Label", "mitreTactics"), ("cs1", string.Join(",", d.Rule.MitreTactics)),
            ("cs2Label", "mitreTechniques"), ("cs2", string.Join(",", d.Rule.MitreTechniques)),
            ("cs3Label", "ruleVersion"), ("cs3", d.Rule.Version),
            ("cs4Label", "tags"), ("cs4", string.Join(",", d.Rule.Tags)),
            ("cn1Label", "flags"), ("cn1", e.Flags.ToString()),
            ("cn2Label", "returnValue"), ("cn2", e.ReturnValue.ToString()),
        };
        if (d.Sequence != 0) ext.Add(("externalId", d.Sequence.ToString()));
        if (d.HostId.Length > 0) ext.Add(("deviceExternalId", d.HostId));
        if (d.AgentSequence != 0) { ext.Add(("cn3Label", "agentSequence")); ext.Add(("cn3", d.AgentSequence.ToString())); }
        if (d.JournalId.Length > 0) ext.Add(("sentinelJournalId", d.JournalId));
        ext.Add(("cs6Label", "findingUid")); ext.Add(("cs6", SiemFields.FindingUid(d)));
        if (d.IsFoldSummary)
        {
            ext.Add(("cnt", d.FoldCount.ToString()));
            ext.Add(("start", SiemFields.UnixMilliseconds(d.FirstTime!.Value).ToString()));
            ext.Add(("end", SiemFields.UnixMilliseconds(d.LastTime!.Value).ToString()));
        }
        if (e.ErrnoName is { } errno) ext.Add(("reason", errno));
        if (e.Enrichment.Caller is { ExePath.Length: > 0 } caller) { ext.Add(("cs5Label", "executable")); ext.Add(("cs5", caller.ExePath)); }
        foreach (var (key, value) in d.Fields) ext.Add(("sentinel" + KeyPart(key), value));

        var first = true;
        foreach (var (key, value) in ext)
        {
            // An empty value says nothing, and a custom label without its value is noise.
            if (value.Length == 0 || key.EndsWith("Label", StringComparison.Ordinal) && Value(ext, key[..^5]).Length == 0) continue;
            if (!first) sb.Append(' ');
            first = false;
            sb.Append(key).Append('=').Append(Extension(value));
        }
        return sb.ToString();
    }

    private static string Value(List<(string Key, string Value)> ext, string key) =>
        ext.FirstOrDefault(p => p.Key == key).Value ?? "";

    /// <summary>0-10: info 1, low 3, medium 5, high 8, critical 10.</summary>
    public static int Severity(Severity severity) => severity switch
    {
        Events.Severity.Info => 1, Events.Severity.Low => 3, Events.Severity.Medium => 5,
        Events.Severity.High => 8, Events.Severity.Critical => 10, _ => 0,
    };

    /// <summary>Header: backslash and pipe are escaped; a header cannot hold a line break, so those become spaces.</summary>
    public static string Header(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '|': sb.Append(@"\|"); break;
                case '\r' or '\n': sb.Append(' '); break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    /// <summary>Extension value: backslash and equals are escaped, line breaks are \n and \r. Pipes are literal here.</summary>
    public static string Extension(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': sb.Append(@"\\"); break;
                case '=': sb.Append(@"\="); break;
                case '\n': sb.Append(@"\n"); break;
                case '\r': sb.Append(@"\r"); break;
                default: sb.Append(c); break;
            }
        }
        return sb.ToString();
    }

    /// <summary>Extension keys are alphanumeric: a field name keeps only those characters.</summary>
    private static string KeyPart(string key)
    {
        var clean = new string(key.Where(char.IsAsciiLetterOrDigit).ToArray());
        return clean.Length == 0 ? "Field" : char.ToUpperInvariant(clean[0]) + clean[1..];
    }
}
