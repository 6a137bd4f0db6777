namespace Sentinel.Server;

/// <summary>The name a host goes by in the fleet: its subject token on NATS and the host_id on every detection.</summary>
public static class HostIdentity
{
    /// <summary>/etc/machine-id when present (stable across renames and reinstalls of the agent), else the hostname.</summary>
    public static string Default()
    {
        try
        {
            var id = File.ReadAllText("/etc/machine-id").Trim();
            if (IsValid(id)) return id;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        var host = Environment.MachineName;
        return IsValid(host) ? host : Sanitize(host);
    }

    /// <summary>
    /// A host id becomes one NATS subject token, so it may not hold '.', '*', '>' or whitespace, and stays short.
    /// </summary>
    public static bool IsValid(string id) =>
        id.Length is > 0 and <= 128 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>Why <paramref name="id"/> is not a valid host id, or null.</summary>
    public static string? Problem(string id) => IsValid(id)
        ? null
        : $"bad host id '{id}': use 1 to 128 characters of letters, digits, '-' and '_' (it becomes a NATS subject token)";

    private static string Sanitize(string host)
    {
        var chars = host.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').Take(128).ToArray();
        return chars.Length == 0 ? "unknown-host" : new string(chars);
    }
}
