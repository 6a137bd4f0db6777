namespace Sentinel.Fleet;

/// <summary>The rule pack an agent runs, as its heartbeats report it.</summary>
public interface IRulePackInfo
{
    /// <summary>The pack's version: the pushed version for `--rules nats`, "dir" for a local directory.</summary>
    string Version { get; }

    /// <summary>sha256 of the pack's content, lowercase hex.</summary>
    string Hash { get; }
}
