using System.Globalization;
using System.Text;
using Sentinel.Events;

namespace Sentinel.Formats;

/// <summary>
/// A detection as an analyst reads it at a glance, one short block:
/// <code>
/// #42  2025-10-09 08:53:20.123Z  HIGH  SNT-0002 MOVE_ALL probing
///   MOVE_ALL without CAP_SYS_NICE
///   who   uid 1000 (alice)  exploit[4242]  /tmp/exploit  ← bash[4000] ← sshd[900]
///   what  target systemd[1] uid 0  MOVE_ALL  8 pages  → EPERM
/// </code>
/// Parts that are unknown or empty are left out, flags read as words, and true/false fields as a word or nothing.
/// The severity is coloured only when <see cref="Color"/> is on (a terminal without NO_COLOR).
/// </summary>
public sealed class PrettyDetectionFormatter(bool color = false, Func<uint, string?>? userName = null) : IDetectionFormatter
{
    private const string Reset = "\u001b[0m";

    public string Name => "pretty";
    public bool Color => color;

    /// <summary>Colour on a terminal only: not when output is redirected, NO_COLOR is set (no-color.org), or TERM=dumb.</summary>
    public static bool ShouldColor(bool outputRedirected, string? noColor, string? term) =>
        !outputRedirected && string.IsNullOrEmpty(noColor) && term != "dumb";

    public static PrettyDetectionFormatter ForConsole() => new(ShouldColor(
        Console.IsOutputRedirected, Environment.GetEnvironmentVariable("NO_COLOR"), Environment.GetEnvironmentVariable("TERM")));

    public string Format(Detection d)
    {
        var e = d.Event;
        var sb = new StringBuilder(256);

        // Header: sequence (once journaled), time, severity, rule, and the host when it is not this one.
        if (d.Sequence != 0) sb.Append('#').Append(d.Sequence).Append("  ");
        sb.Append(d.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)).Append("  ");
        var severity = SeverityText(d.Rule.Severity);
        if (color) sb.Append(SeverityColor(d.Rule.Severity)).Append(severity).Append(Reset);
        else sb.Append(severity);
        sb.Append("  ").Append(d.Rule.Id);
        if (d.Rule.Name.Length > 0) sb.Append(' ').Append(d.Rule.Name);
        if (d.Host.Length > 0 && !IsLocal(d.Host)) sb.Append("  on ").Append(d.Host);

        if (d.Message.Length > 0) sb.Append('\n').Append("  ").Append(OneLine(d.Message));
        sb.Append('\n').Append("  who   ").Append(Who(d));
        sb.Append('\n').Append("  what  ").Append(What(e));

        var fields = Fields(d.Fields);
        if (fields.Length > 0) sb.Append('\n').Append("  also  ").Append(fields);
        if (d.IsFoldSummary)
        {
            sb.Append('\n').Append("  fold  ×").Append(d.FoldCount).Append(d.FoldCount == 1 ? " repeat  " : " repeats  ")
              .Append(Clock(d.FirstTime!.Value));
            if (d.LastTime != d.FirstTime) sb.Append(" → ").Append(Clock(d.LastTime!.Value));
        }
        return sb.ToString();
    }

    private string Who(Detection d)
    {
        var e = d.Event;
        var parts = new List<string>(6);
        var name = IsLocal(d.Host) ? (userName ?? SystemUsers.Name)(e.Uid) : null;
        parts.Add(name is null ? $"uid {e.Uid}" : $"uid {e.Uid} ({name})");
        if (e.Euid != e.Uid) parts.Add($"euid {e.Euid}");
        parts.Add(Process(e.Comm, e.Pid) + (e.Tid != 0 && e.Tid != e.Pid ? $" tid {e.Tid}" : ""));
        var caller = e.Enrichment.Caller;
        if (caller is { ExePath.Length: > 0 }) parts.Add(caller.ExePath);
        if (caller is { ContainerId.Length: > 0 }) parts.Add("container " + Short(caller.ContainerId));
        if (e.Compat) parts.Add("32-bit");

        var chain = new StringBuilder();
        foreach (var ancestor in e.Enrichment.Ancestry)
            chain.Append(chain.Length == 0 ? "← " : " ← ").Append(Process(ancestor.Comm, ancestor.Pid));
        if (chain.Length == 0 && e.Ppid > 0) chain.Append("← ppid ").Append(e.Ppid);
        if (chain.Length > 0) parts.Add(chain.ToString());
        return string.Join("  ", parts);
    }

    private static string What(MovePagesEvent e)
    {
        var parts = new List<string>(6);
        if (e.IsSelf) parts.Add("self");
        else if (e.Enrichment.Target is { } t)
            parts.Add($"target {Process(t.Comm, t.Pid)}" + (t.Uid != e.Uid ? $" uid {t.Uid}" : ""));
        else parts.Add($"target pid {e.TargetPid}");

        var flags = FlagWords(e.Flags);
        if (flags.Length > 0) parts.Add(flags);
        parts.Add(e.Count == 1 ? "1 page" : $"{e.Count} pages");
        if (e.IsQueryMode) parts.Add("query");
        if (e.HasToctouEvidence) parts.Add("TOCTOU");
        parts.Add(e.ReturnValue switch
        {
            0 => "→ ok",
            > 0 => $"→ {e.ReturnValue} not moved",
            _ => $"→ {e.ErrnoName ?? "error"} ({e.ReturnValue})",
        });
        return string.Join("  ", parts);
    }

    /// <summary>MOVE, MOVE_ALL, and any other bit in hex (the kernel refuses those with EINVAL).</summary>
    public static string FlagWords(int flags)
    {
        var words = new List<string>(3);
        if ((flags & (int)MoveFlags.Move) != 0) words.Add("MOVE");
        if ((flags & (int)MoveFlags.MoveAll) != 0) words.Add("MOVE_ALL");
        var other = flags & ~(int)(MoveFlags.Move | MoveFlags.MoveAll);
        if (other != 0) words.Add($"flags 0x{other:x}");
        return string.Join('|', words);
    }

    /// <summary>Finding fields that restate the event, which the who and what lines already show.</summary>
    private static readonly HashSet<string> ShownAbove = new(StringComparer.OrdinalIgnoreCase)
    {
        "pid", "tid", "ppid", "uid", "euid", "comm", "exe", "compat", "target_pid", "target_comm", "target_uid", "flags",
        "count", "result", "errno", "return", "return_value", "query_mode", "toctou",
    };

    /// <summary>
    /// The rule's own fields, key=value (quoted when it has spaces); "True" shows the key alone, and empty, "False"
    /// or a restatement of the event shows nothing (json and the SIEM formats carry every field).
    /// </summary>
    private static string Fields(IReadOnlyDictionary<string, string> fields)
    {
        var parts = new List<string>(fields.Count);
        foreach (var (key, value) in fields.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (ShownAbove.Contains(key) || value.Length == 0 || value.Equals("false", StringComparison.OrdinalIgnoreCase)) continue;
            if (value.Equals("true", StringComparison.OrdinalIgnoreCase)) parts.Add(key);
            else parts.Add(value.Any(char.IsWhiteSpace) ? $"{key}=\"{OneLine(value)}\"" : $"{key}={value}");
        }
        return string.Join("  ", parts);
    }

    private static string Process(string comm, int pid) => comm.Length > 0 ? $"{comm}[{pid}]" : $"pid {pid}";

    private static string Short(string id) => id.Length > 12 ? id[..12] : id;

    private static string OneLine(string text) => text.Replace("\r", "").Replace('\n', ' ');

    private static string Clock(DateTimeOffset time) => time.UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    private static bool IsLocal(string host) => host.Length == 0 || string.Equals(host, Environment.MachineName, StringComparison.OrdinalIgnoreCase);

    public static string SeverityText(Severity severity) => severity switch
    {
        Severity.Info => "INFO", Severity.Low => "LOW", Severity.Medium => "MEDIUM", Severity.High => "HIGH",
        Severity.Critical => "CRITICAL", _ => "UNKNOWN",
    };

    /// <summary>ANSI SGR: critical bold red on the eye, high red, medium yellow, low cyan, info dim.</summary>
    public static string SeverityColor(Severity severity) => severity switch
    {
        Severity.Critical => "\u001b[1;97;41m", Severity.High => "\u001b[1;31m", Severity.Medium => "\u001b[33m",
        Severity.Low => "\u001b[36m", _ => "\u001b[2m",
    };
}

/// <summary>User names from /etc/passwd, read once; null when the uid has none (or the file is unreadable).</summary>
internal static class SystemUsers
{
    private static readonly Lazy<Dictionary<uint, string>> Names = new(Load);

    public static string? Name(uint uid) => Names.Value.GetValueOrDefault(uid);

    private static Dictionary<uint, string> Load()
    {
        var names = new Dictionary<uint, string>();
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var parts = line.Split(':');
                if (parts.Length > 2 && uint.TryParse(parts[2], out var uid)) names.TryAdd(uid, parts[0]);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        return names;
    }
}
