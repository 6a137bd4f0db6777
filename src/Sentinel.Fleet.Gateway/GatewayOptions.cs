using Sentinel.Server;

namespace Sentinel.Fleet.Gateway;

/// <summary>What `sentinel fleet serve` needs: the gRPC listener (as `run` has it) and the NATS side.</summary>
public sealed record GatewayOptions
{
    /// <summary>The gateway's default port, next to the agent's, so both can run on one machine.</summary>
    public const int DefaultPort = ServerOptions.DefaultPort + 1;

    /// <summary>The heartbeat stream: one message per host subject (the last heartbeat).</summary>
    public const string HeartbeatStream = Sentinel.Fleet.Export.StreamProvisioner.HeartbeatStream;

    /// <summary>An agent is silent after this many of its own heartbeat intervals without a heartbeat.</summary>
    public const int SilentAfterIntervals = 3;

    /// <summary>The interval assumed for a heartbeat that does not carry one.</summary>
    public static readonly TimeSpan DefaultHeartbeatInterval = TimeSpan.FromSeconds(5);

    public required ServerOptions Server { get; init; }
    public required FleetOptions Fleet { get; init; }

    /// <summary>How often silence is checked; well under an interval so "silent" is raised close to its deadline.</summary>
    public TimeSpan SilenceCheckPeriod { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Messages one stream client may have in flight from NATS: the bound on its memory in the gateway.</summary>
    public int ClientBatch { get; init; } = 256;

    public void Validate()
    {
        Server.Validate();
        Fleet.Validate();
        if (ClientBatch < 1) throw new FleetConfigurationException("the client batch must be at least 1");
    }
}
