using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Sentinel.V1;

namespace Sentinel.Server.Tests;

public sealed class AuthTests
{
    [Fact]
    public async Task Mtls_rejects_a_client_without_a_certificate_or_with_one_from_another_ca()
    {
        var dir = new TempDir();
        using var pki = new TestCertificates(dir);
        using var otherPki = new TestCertificates(dir, "other");
        await using var server = await ServerHarness.StartAsync(o =>
        {
            o.TlsCertificatePath = pki.ServerCertPath; o.TlsKeyPath = pki.ServerKeyPath; o.ClientCaPath = pki.CaPath;
        }, dir: dir);
        Assert.StartsWith("https://", server.Address);

        var anonymous = server.Client(pki.Handler());
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await anonymous.GetStatusAsync(new GetStatusRequest()));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        Assert.Contains("client certificate", ex.Status.Detail);

        using var stranger = otherPki.Issue("CN=stranger");
        ex = await Assert.ThrowsAsync<RpcException>(async () => await server.Client(pki.Handler(stranger)).GetStatusAsync(new GetStatusRequest()));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);

        // Streams are guarded too, not just unary calls.
        ex = await Assert.ThrowsAsync<RpcException>(() =>
            anonymous.StreamDetections(new StreamDetectionsRequest()).ResponseStream.ReadAsync());
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);

        using var siem = pki.Issue("CN=siem-01");
        var trusted = server.Client(pki.Handler(siem));
        await server.EmitAsync(2);
        var status = await trusted.GetStatusAsync(new GetStatusRequest());
        Assert.Equal(2ul, status.Journal.LastSequence);
        (await trusted.StreamDetections(new StreamDetectionsRequest()).ResponseStream.ReadAsync()).AssertContiguous(1, 2);
    }

    [Fact]
    public async Task Bearer_token_wrong_missing_or_malformed_is_unauthenticated()
    {
        var dir = new TempDir();
        using var pki = new TestCertificates(dir);
        await using var server = await ServerHarness.StartAsync(o =>
        {
            o.TlsCertificatePath = pki.ServerCertPath; o.TlsKeyPath = pki.ServerKeyPath; o.Token = "s3cret-token";
        }, dir: dir);
        var client = server.Client(pki.Handler());

        async Task<RpcException> Fails(string? authorization)
        {
            var headers = new Metadata();
            if (authorization is not null) headers.Add("authorization", authorization);
            return await Assert.ThrowsAsync<RpcException>(async () => await client.GetStatusAsync(new GetStatusRequest(), headers));
        }

        var wrong = await Fails("Bearer not-the-token");
        Assert.Equal(StatusCode.Unauthenticated, wrong.StatusCode);
        Assert.Equal("invalid bearer token", wrong.Status.Detail);
        var missing = await Fails(null);
        Assert.Equal(StatusCode.Unauthenticated, missing.StatusCode);
        var malformed = await Fails("Basic czNjcmV0LXRva2Vu");
        Assert.Equal(StatusCode.Unauthenticated, malformed.StatusCode);
        Assert.Contains("malformed", malformed.Status.Detail);
        Assert.Contains("malformed", (await Fails("Bearer s3cret token")).Status.Detail);

        var ok = await client.GetStatusAsync(new GetStatusRequest(), new Metadata { { "authorization", "Bearer s3cret-token" } });
        Assert.Equal(0ul, ok.Journal.LastSequence);

        // Health checks answer without credentials, for load balancers.
        var health = new Health.HealthClient(server.Channel(pki.Handler()));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);
    }

    [Fact]
    public async Task Non_loopback_listener_refuses_plaintext_and_tls_without_client_auth()
    {
        var dir = new TempDir();
        using var pki = new TestCertificates(dir);

        var plaintext = await Assert.ThrowsAsync<ServerConfigurationException>(() => ServerHarness.StartAsync(o => o.Listen = "0.0.0.0:0", dir: dir));
        Assert.Contains("without TLS", plaintext.Message);

        var noAuth = await Assert.ThrowsAsync<ServerConfigurationException>(() => ServerHarness.StartAsync(o =>
        {
            o.Listen = "0.0.0.0:0"; o.TlsCertificatePath = pki.ServerCertPath; o.TlsKeyPath = pki.ServerKeyPath;
        }, dir: dir));
        Assert.Contains("client auth", noAuth.Message);

        // With TLS and a token it starts, and serves.
        await using var server = await ServerHarness.StartAsync(o =>
        {
            o.Listen = "0.0.0.0:0"; o.TlsCertificatePath = pki.ServerCertPath; o.TlsKeyPath = pki.ServerKeyPath; o.Token = "t0k";
        }, dir: dir);
        var status = await server.Client(pki.Handler()).GetStatusAsync(new GetStatusRequest(), new Metadata { { "authorization", "Bearer t0k" } });
        Assert.NotNull(status.Journal);
    }

    [Fact]
    public async Task A_token_on_a_plaintext_loopback_listener_is_enforced()
    {
        await using var server = await ServerHarness.StartAsync(o => o.Token = "loopback-token");
        var client = server.Client();
        var ex = await Assert.ThrowsAsync<RpcException>(async () => await client.ListRulesAsync(new ListRulesRequest()));
        Assert.Equal(StatusCode.Unauthenticated, ex.StatusCode);
        await client.ListRulesAsync(new ListRulesRequest(), new Metadata { { "authorization", "Bearer loopback-token" } });
    }
}
