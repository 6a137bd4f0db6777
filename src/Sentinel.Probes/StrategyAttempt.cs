using Sentinel.Events;

namespace Sentinel.Probes;

/// <summary>Why a strategy did or did not attach; reported by `run`, `status` and GetStatus.</summary>
public sealed record StrategyAttempt(AttachStrategy Strategy, bool Attached, string Detail);
