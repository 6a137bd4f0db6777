using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Sentinel.Events;

namespace Sentinel.Formats;

/// <summary>Shared pieces of the SIEM formats: product identity, MITRE parsing, process views.</summary>
internal static class SiemFields
{
    public const string Vendor = "Sentinel";
    public const string Product = "Sentinel";
    public static readonly string ProductVersion =
        typeof(SiemFields).Assembly.GetName().Version?.ToString(3) ?? "1.0.0";


    /// <summary>The caller's parent, from the process tree when it knows it, else from the probe's ppid.</summary>
    public static (int Pid, ProcessInfo? Info) Parent(MovePagesEvent e)
    {
        var known = e.Enrichment.Ancestry.Count > 0 ? e.Enrichment.Ancestry[0] : null;
        return (known?.Pid ?? e.Ppid, known);
    }

    public static long UnixMilliseconds(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    /// <summary>
    /// The detection's identity, the same in replay, run and stream: a name-based UUID of the rule and what it
    /// saw (event time, pid, tid, message, fields, and for a fold summary its span). Neither the journal sequence
    /// nor the host name enters, as a replay has no sequence and may run elsewhere.
    /// </summary>
    public static string FindingUid(Detection d)
    {
        var e = d.Event;
        var text = new StringBuilder()
            .Append(d.Rule.Id).Append('\0').Append(e.TimeUnixNs).Append('\0').Append(e.Pid).Append('\0').Append(e.Tid)
            .Append('\0').Append(d.Message);
        foreach (var (key, value) in d.Fields.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            text.Append('\0').Append(key).Append('=').Append(value);
        if (d.FirstTime is { } first) text.Append("\0fold\0").Append(first.UtcTicks).Append('\0').Append(d.FoldCount);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()), hash);
        hash[6] = (byte)(hash[6] & 0x0F | 0x80); // RFC 9562 version 8 (custom), variant 10
        hash[8] = (byte)(hash[8] & 0x3F | 0x80);
        return new Guid(hash[..16], bigEndian: true).ToString();
    }

    /// <summary>
    /// Where a journaled detection comes from: the journal id (a new one means the agent's journal was reset, so
    /// a SIEM can tell a restarted sequence from a replay), the host id and the agent's own sequence. Null for a
    /// detection never journaled (replay).
    /// </summary>
    public static JsonObject? Journal(Detection d)
    {
        if (d.JournalId.Length == 0 && d.HostId.Length == 0 && d.AgentSequence == 0) return null;
        var journal = new JsonObject();
        if (d.JournalId.Length > 0) journal["journal_id"] = d.JournalId;
        if (d.HostId.Length > 0) journal["host_id"] = d.HostId;
        if (d.AgentSequence != 0) journal["agent_sequence"] = d.AgentSequence;
        return journal;
    }

    public static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)!).ToArray());

    /// <summary>The event's move_pages arguments as flat properties every format can carry.</summary>
    public static JsonObject CallDetails(MovePagesEvent e)
    {
        var call = new JsonObject
        {
            ["target_pid"] = e.TargetPid,
            ["count"] = e.Count,
            ["flags"] = e.Flags,
            ["query_mode"] = e.IsQueryMode,
            ["compat"] = e.Compat,
            ["return_value"] = e.ReturnValue,
            ["toctou"] = e.HasToctouEvidence,
        };
        if (e.ErrnoName is { } errno) call["errno"] = errno;
        return call;
    }
}
