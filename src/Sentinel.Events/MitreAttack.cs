namespace Sentinel.Events;

/// <summary>
/// The MITRE ATT&amp;CK (Enterprise) names Sentinel ships: every tactic, and the techniques that move_pages rules
/// map to. SIEM formats name what a rule declares; an id missing here is still carried, just without a name.
/// </summary>
public static class MitreAttack
{
    /// <summary>The ATT&amp;CK release the names come from.</summary>
    public const string Version = "v15";

    public static readonly IReadOnlyDictionary<string, string> Tactics = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["TA0043"] = "Reconnaissance",
        ["TA0042"] = "Resource Development",
        ["TA0001"] = "Initial Access",
        ["TA0002"] = "Execution",
        ["TA0003"] = "Persistence",
        ["TA0004"] = "Privilege Escalation",
        ["TA0005"] = "Defense Evasion",
        ["TA0006"] = "Credential Access",
        ["TA0007"] = "Discovery",
        ["TA0008"] = "Lateral Movement",
        ["TA0009"] = "Collection",
        ["TA0011"] = "Command and Control",
        ["TA0010"] = "Exfiltration",
        ["TA0040"] = "Impact",
    };

    public static readonly IReadOnlyDictionary<string, string> Techniques = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["T1055"] = "Process Injection",
        ["T1057"] = "Process Discovery",
        ["T1068"] = "Exploitation for Privilege Escalation",
        ["T1082"] = "System Information Discovery",
        ["T1106"] = "Native API",
        ["T1211"] = "Exploitation for Defense Evasion",
        ["T1497"] = "Virtualization/Sandbox Evasion",
        ["T1562"] = "Impair Defenses",
        ["T1562.001"] = "Disable or Modify Tools",
        ["T1611"] = "Escape to Host",
        ["T1622"] = "Debugger Evasion",
    };

    public static string? TacticName(string id) => Tactics.GetValueOrDefault(id);

    public static string? TechniqueName(string id) => Techniques.GetValueOrDefault(id);

    /// <summary>The ATT&amp;CK page of a tactic or technique id (sub-techniques as T1562/001).</summary>
    public static string Url(string id) =>
        id.StartsWith("TA", StringComparison.Ordinal)
            ? $"https://attack.mitre.org/tactics/{id}/"
            : $"https://attack.mitre.org/techniques/{id.Replace('.', '/')}/";
}
