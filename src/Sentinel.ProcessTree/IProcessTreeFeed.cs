namespace Sentinel.ProcessTree;

/// <summary>
/// What feeds the tree from the kernel. The enricher asks it, before each event, to apply the records written
/// up to the event's time, so an event never outruns the fork or exec that preceded it.
/// </summary>
public interface IProcessTreeFeed
{
    /// <summary>Applies every record written before <paramref name="atNs"/> (boot clock; 0 = up to now) not applied yet.</summary>
    void ApplyUpTo(ulong atNs);
}
