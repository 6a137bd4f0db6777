namespace Sentinel.Fleet.RulePacks;

/// <summary>A pack, key file or store that cannot be used, with one line saying why.</summary>
public sealed class RulePackException(string reason, string? claimedVersion = null) : Exception(reason)
{
    /// <summary>The version the pack claims, read before it was verified: for reports only, never trusted.</summary>
    public string? ClaimedVersion { get; } = claimedVersion;
}
