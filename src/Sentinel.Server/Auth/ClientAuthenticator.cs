using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Sentinel.Server.Auth;

/// <summary>
/// Decides who a call comes from: a client certificate chaining to the configured CA, or the bearer token.
/// Either is enough. Failures are UNAUTHENTICATED with a message that says what to send, never why a secret differed.
/// </summary>
public sealed class ClientAuthenticator
{
    public const string IdentityKey = "sentinel.identity";
    private readonly X509Certificate2Collection? _clientCas;
    private readonly byte[]? _tokenHash;

    public ClientAuthenticator(ServerOptions options)
    {
        if (options.ClientCaPath is { } caPath)
        {
            _clientCas = [];
            try { _clientCas.ImportFromPemFile(caPath); }
            catch (Exception ex) when (ex is IOException or CryptographicException)
            {
                throw new ServerConfigurationException($"cannot read the client CA {caPath}: {ex.Message}");
            }
            if (_clientCas.Count == 0) throw new ServerConfigurationException($"no certificates in the client CA file {caPath}");
        }
        if (options.Token is { } token) _tokenHash = SHA256.HashData(Encoding.UTF8.GetBytes(token));
    }

    public bool Enabled => _clientCas is not null || _tokenHash is not null;

    /// <summary>The caller's identity: the certificate subject, "token", or "" when auth is off.</summary>
    public string Authenticate(ServerCallContext context)
    {
        if (!Enabled) return "";
        var certificate = context.GetHttpContext().Connection.ClientCertificate;
        if (certificate is not null && _clientCas is not null && ChainsToClientCa(certificate))
            return certificate.Subject;

        var header = context.RequestHeaders.GetValue("authorization");
        if (header is not null && _tokenHash is not null)
        {
            const string scheme = "Bearer ";
            if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) || header.Length == scheme.Length ||
                header.AsSpan(scheme.Length).ContainsAny(' ', '\t'))
                throw new RpcException(new Status(StatusCode.Unauthenticated, "malformed authorization header: expected 'Bearer TOKEN'"));
            // Hash both sides so the comparison is constant-time whatever the lengths.
            var presented = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..]));
            if (CryptographicOperations.FixedTimeEquals(presented, _tokenHash)) return "token";
            throw new RpcException(new Status(StatusCode.Unauthenticated, "invalid bearer token"));
        }

        var expected = (_clientCas, _tokenHash) switch
        {
            (not null, not null) => "a client certificate signed by the configured CA or an 'authorization: Bearer TOKEN' header",
            (not null, null) => "a client certificate signed by the configured CA",
            _ => "an 'authorization: Bearer TOKEN' header",
        };
        var why = certificate is not null && _clientCas is not null ? "the client certificate is not trusted; " : "";
        throw new RpcException(new Status(StatusCode.Unauthenticated, $"{why}authentication required: send {expected}"));
    }

    private bool ChainsToClientCa(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientCas!);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2")); // clientAuth
        return chain.Build(certificate);
    }
}

/// <summary>Authenticates every call except health checks, which load balancers make without credentials.</summary>
public sealed class AuthInterceptor(ClientAuthenticator authenticator) : Interceptor
{
    private void Authenticate(ServerCallContext context)
    {
        if (context.Method.StartsWith("/grpc.health.v1.Health/", StringComparison.Ordinal)) return;
        context.UserState[ClientAuthenticator.IdentityKey] = authenticator.Authenticate(context);
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, responseStream, context);
    }
}
