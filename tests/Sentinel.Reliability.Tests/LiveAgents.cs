namespace Sentinel.Reliability.Tests;

/// <summary>
/// The tests that run the real agent, one at a time: each agent captures every process's calls, so one test's
/// flood (the restart loop's load, a distinct-call flood) would otherwise become another agent's backlog, and on
/// a loaded machine its SIGTERM drain would outlast that test's bound.
/// </summary>
[CollectionDefinition(Name)]
public sealed class LiveAgents
{
    public const string Name = "live agents";
}
