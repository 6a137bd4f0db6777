using System.CommandLine;
using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Sentinel.Cli.Agent;
using Sentinel.Contracts;
using Sentinel.Fleet;
using Sentinel.Fleet.Gateway;
using Sentinel.Server;
using Sentinel.V1;

namespace Sentinel.Cli;

/// <summary>`sentinel fleet serve` (the gateway) and `sentinel fleet status` (its agents).</summary>
internal static class FleetCommands
{
    public static Command Create() => new("fleet", "The fleet: serve every agent's detections from NATS JetStream, and see every agent.")
    {
        Serve(), Status(),
    };

    private static Command Serve()
    {
        var nats = new Option<string>("--nats") { Description = "NATS server URLs: nats://HOST:PORT[,URL...].", Required = true };
        var creds = new Option<string?>("--nats-creds") { Description = "A NATS .creds file (user JWT and nkey seed)." };
        var tlsCa = new Option<string?>("--nats-tls-ca") { Description = "Require TLS to NATS, verified against this CA (PEM)." };
        var stream = new Option<string>("--nats-stream") { Description = "The detections stream.", DefaultValueFactory = _ => FleetOptions.DefaultStream };
        var listen = new Option<string>("--listen")
        {
            Description = "gRPC listener: HOST:PORT or unix:PATH. A non-loopback address requires --tls-cert and client auth.",
            DefaultValueFactory = _ => $"127.0.0.1:{GatewayOptions.DefaultPort}",
        };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "Server certificate (PEM) for TLS." };
        var tlsKey = new Option<string?>("--tls-key") { Description = "Server private key (PEM)." };
        var clientCa = new Option<string?>("--client-ca") { Description = "Require client certificates signed by this CA (mTLS)." };
        var token = new Option<string?>("--token") { Description = "Require this bearer token from clients." };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log more." };
        var command = new Command("serve",
            "Serve sentinel.v1.DetectionService over the fleet's JetStream stream: one resume cursor for every host, " +
            "the agents' heartbeats, and \"agent went silent\" detections. Stateless; run as many as you like.")
        {
            nats, creds, tlsCa, stream, listen, tlsCert, tlsKey, clientCa, token, verbose,
        };
        command.SetAction(async parse =>
        {
            GatewayOptions options;
            try
            {
                options = new GatewayOptions
                {
                    Fleet = new FleetOptions
                    {
                        Servers = FleetOptions.ParseServers(parse.GetValue(nats)!), CredsFile = parse.GetValue(creds),
                        TlsCaFile = parse.GetValue(tlsCa), Stream = parse.GetValue(stream)!,
                    },
                    Server = new ServerOptions
                    {
                        Listen = parse.GetValue(listen)!, TlsCertificatePath = parse.GetValue(tlsCert), TlsKeyPath = parse.GetValue(tlsKey),
                        ClientCaPath = parse.GetValue(clientCa), Token = parse.GetValue(token),
                    },
                };
            }
            catch (FleetConfigurationException ex)
            {
                throw new CliException(ex.Message);
            }
            return await RunGatewayAsync(options, parse.GetValue(verbose));
        });
        return command;
    }

    private static async Task<int> RunGatewayAsync(GatewayOptions options, bool verbose)
    {
        WebApplication app;
        try
        {
            app = FleetGateway.Build(options, builder =>
            {
                AgentRunner.ConfigureLogging(builder.Logging, verbose);
                builder.Services.AddSingleton<IHostLifetime, Microsoft.Extensions.Hosting.Internal.ConsoleLifetime>();
                builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
            });
        }
        catch (Exception ex) when (ex is ServerConfigurationException or FleetConfigurationException)
        {
            throw new CliException(ex.Message);
        }
        await using (app)
        {
            try
            {
                await app.StartAsync();
            }
            catch (IOException ex)
            {
                throw new CliException($"cannot listen on {options.Server.Listen}: {ex.Message} (choose another with --listen)");
            }
            Console.Error.WriteLine($"sentinel: fleet gateway serving gRPC on {string.Join(", ", SentinelServer.BoundAddresses(app.Services))}, " +
                                    $"stream {options.Fleet.Stream} on {string.Join(",", options.Fleet.Servers)}");
            await app.WaitForShutdownAsync();
        }
        return ExitCodes.Ok;
    }

    private static Command Status()
    {
        var json = new Option<bool>("--json") { Description = "Print sentinel.v1.ListAgentsResponse in the protobuf JSON mapping." };
        var command = new Command("status",
            "Show the gateway and every agent it knows: version, rule pack, last heartbeat, lost counters and SILENT. Exit 1 when an agent is silent.")
        {
            json,
        };
        ServerConnection.AddOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var connection = ServerConnection.From(parse);
            var client = new DetectionService.DetectionServiceClient(connection.Channel);
            AgentStatus gateway;
            ListAgentsResponse agents;
            try
            {
                var deadline = DateTime.UtcNow.AddSeconds(30);
                gateway = await client.GetStatusAsync(new GetStatusRequest(), connection.Headers, deadline, cancellationToken);
                agents = await client.ListAgentsAsync(new ListAgentsRequest(), connection.Headers, deadline, cancellationToken);
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
            {
                throw new CliException($"{connection.Address} is not a fleet gateway (it has no ListAgents); use `sentinel status` for an agent");
            }
            catch (RpcException ex)
            {
                throw new CliException($"{connection.Address}: {ex.StatusCode}: {ex.Status.Detail}");
            }
            Console.Out.Write(parse.GetValue(json) ? EventJson.Format(agents) + Environment.NewLine : Render(gateway, agents, DateTimeOffset.UtcNow));
            return agents.Agents.Any(a => a.Silent) ? ExitCodes.Findings : ExitCodes.Ok;
        });
        return command;
    }

    public static string Render(AgentStatus status, ListAgentsResponse agents, DateTimeOffset now)
    {
        var w = new StringWriter(CultureInfo.InvariantCulture);
        var g = status.Gateway ?? new GatewayStatus();
        var range = g.FirstSequence > g.LastSequence ? $"empty (next {g.LastSequence + 1})" : $"{g.FirstSequence}..{g.LastSequence}";
        w.WriteLine($"gateway   {status.Host}  sentinel {status.Version}  listen {string.Join(", ", status.Listen)}");
        w.WriteLine($"nats      {string.Join(",", g.Servers)}  {(g.Connected ? "connected" : "DISCONNECTED")}");
        w.WriteLine($"stream    {g.Stream}  sequences {range}  {g.Messages} messages  {g.Bytes / 1024.0:0.#} KiB  skipped malformed {g.SkippedMalformed}" +
                    (g.LastError.Length > 0 ? $"  error: {g.LastError}" : ""));
        w.WriteLine($"agents    {g.Agents} ({g.SilentAgents} silent)");
        w.WriteLine();
        StatusCommand.Table(w, ["HOST", "VERSION", "RULES", "HASH", "LAST SEEN", "LOST", "STATE"],
            agents.Agents.Select(a =>
            {
                var hb = a.LastHeartbeat ?? new Heartbeat();
                var seen = a.LastSeen?.ToDateTimeOffset();
                var hash = hb.RulePackHash.Length > 12 ? hb.RulePackHash[..12] : hb.RulePackHash;
                return new[]
                {
                    a.HostId, Or(hb.Version), Or(hb.RulePackVersion), Or(hash),
                    seen is { } t ? $"{t:yyyy-MM-dd HH:mm:ss}Z ({Ago(now - t)} ago)" : "-",
                    $"kernel {hb.Counters?.LostInKernel ?? 0}, export {hb.ExportLostToRetention}",
                    a.Silent ? "SILENT" : hb.Stopping ? "stopped" : "ok",
                };
            }), "no agents have sent a heartbeat");
        return w.ToString();
    }

    private static string Or(string s) => s.Length > 0 ? s : "-";

    private static string Ago(TimeSpan t) => t.TotalSeconds switch
    {
        < 0 => "0s", < 120 => $"{t.TotalSeconds:0}s", < 7200 => $"{t.TotalMinutes:0}m", < 172800 => $"{t.TotalHours:0}h", _ => $"{t.TotalDays:0}d",
    };
}
