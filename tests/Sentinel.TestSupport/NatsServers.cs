using System.Net;
using System.Net.Http;
using System.Net.Sockets;

namespace Sentinel.TestSupport;

/// <summary>
/// A real nats-server (the Debian package, installed by .ci/setup) with JetStream, on loopback with its own store
/// directory. Stop, kill and restart keep the ports and the store, as an operator's restart would.
/// </summary>
public sealed class NatsNode : IDisposable
{
    private readonly string[] _args;
    private readonly string _logPath;
    private ChildProcess? _process;

    internal NatsNode(string name, int clientPort, int monitorPort, string storeDir, string[] extraArgs)
    {
        Name = name;
        ClientPort = clientPort;
        MonitorPort = monitorPort;
        StoreDir = storeDir;
        _logPath = Path.Combine(storeDir, "server.log");
        _args = ["-n", name, "-a", "127.0.0.1", "-p", clientPort.ToString(), "-m", monitorPort.ToString(),
                 "-js", "-sd", storeDir, "-l", _logPath, .. extraArgs];
    }

    public string Name { get; }
    public int ClientPort { get; }
    public int MonitorPort { get; }
    public string StoreDir { get; }
    public string Url => $"nats://127.0.0.1:{ClientPort}";
    public bool IsRunning => _process is { HasExited: false };
    public string Log => File.Exists(_logPath) ? File.ReadAllText(_logPath) : "";

    public void Start()
    {
        if (IsRunning) return;
        _process?.Dispose();
        _process = new ChildProcess(NatsServers.Binary, _args, $"nats-server {Name}");
    }

    /// <summary>SIGTERM, then waits for exit (the store is flushed).</summary>
    public void Stop()
    {
        if (_process is not { HasExited: false } p) return;
        p.Signal("TERM");
        try { p.WaitForExit(TimeSpan.FromSeconds(15)); }
        catch (WaitFailedException) { } // killed instead
    }

    /// <summary>SIGKILL: a crash.</summary>
    public void Kill()
    {
        _process?.Kill();
    }

    /// <summary>Waits until /healthz reports the server (and JetStream) ready.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout, bool jetStreamOnly = false)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var url = $"http://127.0.0.1:{MonitorPort}/healthz" + (jetStreamOnly ? "?js-enabled-only=true" : "");
        string last = "no answer";
        await Wait.UntilAsync(async () =>
        {
            try
            {
                using var response = await http.GetAsync(url);
                if (response.IsSuccessStatusCode) return true;
                last = await response.Content.ReadAsStringAsync();
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                last = ex.Message;
            }
            return false;
        }, $"nats-server {Name} to be ready", (int)timeout.TotalSeconds, () => $"healthz: {last}\n{Log}",
            stop: () => _process is { HasExited: true } ? $"nats-server {Name} exited" : null);
    }

    public void Dispose()
    {
        _process?.Dispose();
    }
}

/// <summary>One JetStream node, or a 3-node JetStream cluster (for R3 streams), in a temporary directory.</summary>
public sealed class NatsServers : IDisposable
{
    private readonly string _root;

    private NatsServers(IReadOnlyList<NatsNode> nodes, string root)
    {
        Nodes = nodes;
        _root = root;
    }

    public static string Binary => RepoPaths.RequiredSystemTool("nats-server", "nats-server");

    public IReadOnlyList<NatsNode> Nodes { get; }

    /// <summary>All node URLs, comma-separated, as `--nats` takes them.</summary>
    public string Urls => string.Join(",", Nodes.Select(n => n.Url));

    /// <summary>One node; <paramref name="extraArgs"/> go to nats-server as they are (TLS, for example).</summary>
    public static Task<NatsServers> StartSingleAsync(params string[] extraArgs) => WithFreshPortsOnCollision(() => StartSingleOnceAsync(extraArgs));

    private static async Task<NatsServers> StartSingleOnceAsync(string[] extraArgs)
    {
        var root = Directory.CreateTempSubdirectory("sentinel-nats-").FullName;
        var node = new NatsNode("n1", FreePort(), FreePort(), Path.Combine(root, "n1"), extraArgs);
        Directory.CreateDirectory(node.StoreDir);
        var servers = new NatsServers([node], root);
        try
        {
            node.Start();
            await node.WaitReadyAsync(TimeSpan.FromSeconds(30), jetStreamOnly: true);
        }
        catch
        {
            servers.Dispose();
            throw;
        }
        return servers;
    }

    /// <summary>Three nodes with routes to each other; returns once JetStream has a meta leader.</summary>
    public static Task<NatsServers> StartClusterAsync() => WithFreshPortsOnCollision(StartClusterOnceAsync);

    private static async Task<NatsServers> StartClusterOnceAsync()
    {
        var root = Directory.CreateTempSubdirectory("sentinel-nats-").FullName;
        var clusterPorts = new[] { FreePort(), FreePort(), FreePort() };
        var routes = string.Join(",", clusterPorts.Select(p => $"nats://127.0.0.1:{p}"));
        var nodes = new List<NatsNode>();
        for (var i = 0; i < 3; i++)
        {
            var dir = Path.Combine(root, $"n{i + 1}");
            Directory.CreateDirectory(dir);
            nodes.Add(new NatsNode($"n{i + 1}", FreePort(), FreePort(), dir,
                ["--cluster_name", "sentinel-test", "--cluster", $"nats://127.0.0.1:{clusterPorts[i]}", "--routes", routes]));
        }
        var servers = new NatsServers(nodes, root);
        try
        {
            foreach (var n in nodes) n.Start();
            foreach (var n in nodes) await n.WaitReadyAsync(TimeSpan.FromSeconds(60));
            // healthz without js-enabled-only waits for the JetStream meta group to have a leader.
            foreach (var n in nodes) await n.WaitReadyAsync(TimeSpan.FromSeconds(60));
        }
        catch
        {
            servers.Dispose();
            throw;
        }
        return servers;
    }

    public void Dispose()
    {
        foreach (var n in Nodes) n.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// A loopback port free right now, below Linux's ephemeral range (32768–60999): a port from that range can be
    /// taken by any outgoing connection between this call and the server's bind.
    /// </summary>
    public static int FreePort()
    {
        for (var attempt = 0; attempt < 1000; attempt++)
        {
            var port = Random.Shared.Next(20_000, 32_000);
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
            }
        }
        throw new InvalidOperationException("no free loopback port between 20000 and 32000");
    }

    /// <summary>Starts servers, again on fresh ports when a port was taken between choosing it and binding it.</summary>
    private static async Task<NatsServers> WithFreshPortsOnCollision(Func<Task<NatsServers>> start)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await start();
            }
            catch (Exception ex) when (ex is InvalidOperationException or WaitFailedException && attempt < 5 && ex.Message.Contains("address already in use", StringComparison.Ordinal))
            {
            }
        }
    }
}
