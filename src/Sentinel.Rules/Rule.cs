using Sentinel.Events;

namespace Sentinel.Rules;

/// <summary>
/// The base class of every rule. A rule file declares one sealed class deriving from it: its metadata in
/// <see cref="Info"/>, and <see cref="Match"/>, which adds zero or more findings for one event.
/// </summary>
/// <remarks>
/// The engine calls <see cref="Match"/> on the pipeline thread, one event at a time. The event is pooled:
/// read it, never keep it. Findings are published only when <see cref="Match"/> returns normally.
/// </remarks>
public abstract class Rule
{
    /// <summary>The rule's metadata: id (SNT-####), version, name, description, severity, MITRE, tags, events.</summary>
    public abstract RuleInfo Info { get; }

    /// <summary>Facts about the host the engine runs on (namespaces, NUMA nodes).</summary>
    public HostInfo Host { get; internal set; } = HostInfo.Unknown;

    /// <summary>Called once after construction with the rule's parameters, before any event.</summary>
    public virtual void Configure(RuleParameters parameters)
    {
    }

    /// <summary>Evaluates one event; calls <see cref="Findings.Add(string)"/> for each finding.</summary>
    public abstract void Match(MovePagesEvent e, Findings findings);
}
