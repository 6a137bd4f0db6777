using Microsoft.Extensions.Logging;
using Sentinel.Events;
using Sentinel.Response;
using Sentinel.Rules;
using Sentinel.Server;
using Sentinel.V1;

namespace Sentinel.Cli.Agent;

/// <summary>`run --enforce`: attaches the kernel response before the host starts, so a refusal is one clear line.</summary>
internal static class ResponseWiring
{
    public static ResponseCoordinator? Attach(ResponseOptions? options, RuleEngine? rules, bool verbose)
    {
        if (options is null) return null;
        using var loggers = LoggerFactory.Create(logging => AgentRunner.ConfigureLogging(logging, verbose));
        KernelResponder responder;
        try
        {
            responder = KernelResponder.Attach(options, loggers.CreateLogger("Sentinel.Response"));
        }
        catch (Exception ex) when (ex is ResponseUnavailableException or ArgumentException or Sentinel.Bpf.BpfException)
        {
            throw new CliException(ex.Message);
        }
        var coordinator = new ResponseCoordinator(responder, rules, loggers.CreateLogger("Sentinel.Response"));
        Console.Error.WriteLine($"sentinel: response: {(options.Mode == ResponseMode.Audit ? "audit (nothing is killed)" : "enforce")} " +
                                $"on the {KernelResponder.PathName(responder.Path)} path, {responder.InstalledPolicies} kernel policies " +
                                $"({string.Join("; ", responder.Attempts)})");
        return coordinator;
    }
}

/// <summary>Fans response detections out to several sinks (when there is no journal).</summary>
internal sealed class FanOutSink(IReadOnlyList<IDetectionSink> sinks) : IDetectionSink
{
    public void OnDetection(Sentinel.Events.Detection detection)
    {
        foreach (var sink in sinks) sink.OnDetection(detection);
    }
}

/// <summary>GetStatus: the response mode, the kernel path and what it did.</summary>
internal sealed class ResponseStatusContributor(ResponseCoordinator coordinator) : IAgentStatusContributor
{
    public void Contribute(AgentStatus status)
    {
        var r = coordinator.Responder;
        var (signalled, wouldKill, rateLimited, spared) = r.Counters;
        status.Response = new ResponseStatus
        {
            Mode = r.Mode == ResponseMode.Audit ? "audit" : "enforce",
            Path = KernelResponder.PathName(r.Path),
            Detail = string.Join("\n", r.Attempts), // one line per path tried, strongest first
            Policies = (uint)r.InstalledPolicies,
            Signalled = (ulong)signalled,
            WouldKill = (ulong)wouldKill,
            RateLimited = (ulong)rateLimited,
            Protected = (ulong)spared,
            KillsPerSecond = r.KillsPerSecond,
        };
    }
}
