namespace Sentinel.Probes;

/// <summary>No strategy attached; <see cref="Attempts"/> says why each failed.</summary>
public sealed class ProbeAttachException(IReadOnlyList<StrategyAttempt> attempts)
    : Exception("no probe strategy attached: " + MovePagesProbe.Describe(attempts))
{
    public IReadOnlyList<StrategyAttempt> Attempts { get; } = attempts;
}
