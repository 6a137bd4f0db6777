using Sentinel.TestSupport;
using Sentinel.V1;

namespace Sentinel.Fleet.Tests;

/// <summary>
/// --nats-tls-ca against a real nats-server that requires TLS: the agent exports and the gateway serves when they
/// trust the server's CA, and an agent that does not trust it exports nothing, says why, and still detects.
/// </summary>
public sealed class NatsTlsTests
{
    [Fact]
    public async Task A_tls_only_server_is_used_with_the_given_ca_and_refused_without_it()
    {
        var pki = Directory.CreateTempSubdirectory("sentinel-nats-tls-").FullName;
        OpenSsl(pki, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sentinel test CA", "-keyout", "ca.key", "-out", "ca.pem");
        OpenSsl(pki, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr");
        File.WriteAllText(Path.Combine(pki, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
        OpenSsl(pki, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem");
        var ca = Path.Combine(pki, "ca.pem");

        using var servers = await NatsServers.StartSingleAsync("--tls", "--tlscert", Path.Combine(pki, "server.pem"), "--tlskey", Path.Combine(pki, "server.key"));
        using var trusting = await ExportAgent.StartAsync(ExportTests.Journal(), servers.Urls, "tls-ok", "--nats-tls-ca", ca);
        using var untrusting = await ExportAgent.StartAsync(ExportTests.Journal(), servers.Urls, "tls-no-ca");

        var last = await trusting.EmitAsync(5);
        Assert.Equal(3UL, await untrusting.EmitAsync(3)); // detection and the journal never wait on the broker
        await Wait.UntilAsync(async () => (await trusting.StatusAsync()).Export.AckedSequence == last, "the trusting agent to export over TLS", 90);

        await using var gateway = await GatewayHarness.StartAsync(servers.Urls, tlsCa: ca);
        var fleet = await gateway.ReadAsync(new StreamDetectionsRequest { HostIds = { "tls-ok" } });
        Assert.Equal(Enumerable.Range(1, 5).Select(i => (ulong)i), fleet.Select(d => d.AgentSequence));

        var refused = (await untrusting.StatusAsync()).Export;
        Assert.False(refused.Connected);
        Assert.Equal(0UL, refused.AckedSequence);
        await Wait.UntilAsync(() => untrusting.Stderr.Contains("unreachable"), "the untrusting agent to say NATS is unreachable", 60);
        Assert.Empty(await gateway.ReadAsync(new StreamDetectionsRequest { HostIds = { "tls-no-ca" } }));
    }

    private static void OpenSsl(string directory, params string[] args)
    {
        var (exit, _, error) = ChildProcess.Run("openssl", args, workingDirectory: directory);
        Assert.True(exit == 0, $"openssl {string.Join(' ', args)}: {error}");
    }
}
