using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Sentinel.Server.Tests;

/// <summary>A throwaway PKI made at test time: a CA, a server certificate for 127.0.0.1, and client certificates.</summary>
public sealed class TestCertificates : IDisposable
{
    public TestCertificates(TempDir dir, string name = "ca")
    {
        Dir = dir;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN=Sentinel Test {name}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        CaPath = Write($"{name}.pem", Ca.ExportCertificatePem());
        Server = Issue("CN=127.0.0.1", serverAuth: true);
        ServerCertPath = Write($"{name}-server.pem", Server.ExportCertificatePem());
        ServerKeyPath = Write($"{name}-server.key", Server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }

    public TempDir Dir { get; }
    public X509Certificate2 Ca { get; }
    public X509Certificate2 Server { get; }
    public string CaPath { get; }
    public string ServerCertPath { get; }
    public string ServerKeyPath { get; }

    public X509Certificate2 Issue(string subject, bool serverAuth = false)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(12);
        using var issued = request.Create(Ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10), serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes a client certificate and key as PEM files, as the CLI takes them.</summary>
    public (string Cert, string Key) WriteClient(X509Certificate2 client, string name)
    {
        return (Write(name + ".pem", client.ExportCertificatePem()), Write(name + ".key", client.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem()));
    }

    /// <summary>A handler that trusts only this CA for the server, optionally presenting a client certificate.</summary>
    public SocketsHttpHandler Handler(X509Certificate2? clientCertificate = null) => new()
    {
        SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificates = clientCertificate is null ? null : [clientCertificate],
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                if (certificate is null) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(Ca);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            },
        },
    };

    private string Write(string name, string pem)
    {
        var path = Path.Combine(Dir.Path, name);
        File.WriteAllText(path, pem);
        return path;
    }

    public void Dispose()
    {
        Ca.Dispose();
        Server.Dispose();
    }
}
