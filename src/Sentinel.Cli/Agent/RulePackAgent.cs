using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Sentinel.Fleet;
using Sentinel.Fleet.RulePacks;
using Sentinel.Rules;
using Sentinel.Server;
using Sentinel.V1;

namespace Sentinel.Cli.Agent;

/// <summary>`run --rules nats`: the agent runs the signed pack it follows in SENTINEL_RULES.</summary>
internal sealed class RulePackAgent : IDisposable
{
    private const string LogCategory = "Sentinel.Fleet.RulePacks";
    private readonly ILoggerFactory _loggers;
    private readonly FleetOptions _fleet;

    private RulePackAgent(RulePackDeployment deployment, FleetOptions fleet, ILoggerFactory loggers)
    {
        Deployment = deployment;
        _fleet = fleet;
        _loggers = loggers;
    }

    public RulePackDeployment Deployment { get; }

    /// <summary>Checks the options, then restores the last good pack (state: beside the journal) for the engine to load.</summary>
    public static RulePackAgent Create(string? publicKeyFile, FleetOptions? fleet, string journalPath, bool verbose)
    {
        if (publicKeyFile is null) throw new CliException("--rules nats needs --rules-pubkey FILE: the public key(s) packs must be signed with");
        if (fleet is null) throw new CliException("--rules nats needs --nats URL: the NATS servers holding SENTINEL_RULES");
        IReadOnlyList<RulePackPublicKey> keys;
        try
        {
            keys = RulePackKeys.ReadPublic(publicKeyFile);
        }
        catch (RulePackException ex)
        {
            throw new CliException($"--rules-pubkey: {ex.Message}");
        }
        var loggers = LoggerFactory.Create(logging =>
        {
            AgentRunner.ConfigureLogging(logging, verbose);
            logging.AddFilter(LogCategory, LogLevel.Information);
        });
        var state = Path.ChangeExtension(Path.GetFullPath(journalPath), null) + ".rule-packs";
        var deployment = new RulePackDeployment(state, keys, loggers.CreateLogger(LogCategory));
        RulePackState restored;
        try
        {
            restored = deployment.Restore();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            loggers.Dispose();
            throw new CliException($"cannot prepare the rule-pack directory {state}: {ex.Message}");
        }
        Console.Error.WriteLine(restored.Version == "none"
            ? $"sentinel: no rule pack yet: waiting for one in {RulePackStore.Bucket} (trusted keys: {string.Join(", ", keys.Select(k => k.KeyId))})"
            : $"sentinel: running rule pack {restored.Version} (sha256 {restored.Hash}) from {state}; following {RulePackStore.Bucket}");
        return new RulePackAgent(deployment, fleet, loggers);
    }

    public void Attach(RuleEngine engine) => Deployment.Attach(engine);

    public void AddTo(IServiceCollection services)
    {
        services.AddSingleton(Deployment);
        services.AddSingleton<IRulePackInfo>(Deployment);
        services.AddSingleton<IAgentStatusContributor, RulePackStatusContributor>();
        services.AddHostedService(sp => new RulePackFollower(Deployment, _fleet, sp.GetRequiredService<ILogger<RulePackFollower>>()));
        services.Configure<LoggerFilterOptions>(o => o.Rules.Add(new LoggerFilterRule(null, LogCategory, LogLevel.Information, null)));
    }

    public void Dispose() => _loggers.Dispose();
}

/// <summary>GetStatus: the pack this agent runs and the last one it refused, with the reason.</summary>
internal sealed class RulePackStatusContributor(RulePackDeployment deployment) : IAgentStatusContributor
{
    public void Contribute(AgentStatus status)
    {
        var state = deployment.State;
        status.RulePack = new RulePackStatus
        {
            Source = "nats", Version = state.Version, Hash = state.Hash,
            RejectedVersion = state.RejectedVersion ?? "", RejectedReason = state.RejectedReason ?? "",
        };
    }
}
