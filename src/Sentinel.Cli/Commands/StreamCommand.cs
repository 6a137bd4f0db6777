using System.CommandLine;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using Sentinel.Contracts;
using Sentinel.Formats;
using Sentinel.V1;

namespace Sentinel.Cli;

/// <summary>
/// `sentinel stream --server ADDR [--after SEQ] [--follow]`: the SIEM-side tail of the detection journal. It prints
/// each detection once, reconnects with backoff when the agent goes away, and resumes after the last one printed.
/// </summary>
internal static class StreamCommand
{
    public static Command Create()
    {
        var after = new Option<ulong>("--after") { Description = "Start after this sequence (the last one you have); 0 = from the earliest retained." };
        var follow = new Option<bool>("--follow", "-F") { Description = "Keep streaming new detections; reconnect whenever the agent goes away." };
        var format = new Option<string>("--format", "-f")
        {
            Description = "Output format: " + string.Join("|", DetectionFormats.Names) + ".",
            DefaultValueFactory = _ => "json",
        };
        var minSeverity = new Option<string?>("--min-severity") { Description = "Only detections at or above: info|low|medium|high|critical." };
        var rule = new Option<string[]>("--rule") { Description = "Only this rule id (repeatable).", AllowMultipleArgumentsPerToken = true };
        var command = new Command("stream", "Stream detections from an agent's journal, resuming after the last one printed.")
        {
            after, follow, format, minSeverity, rule,
        };
        ServerConnection.AddOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var formatName = parse.GetValue(format)!;
            if (!DetectionFormats.Names.Contains(formatName))
                throw new CliException($"unknown format '{formatName}' (expected one of: {string.Join(", ", DetectionFormats.Names)})");
            var request = new StreamDetectionsRequest
            {
                AfterSequence = parse.GetValue(after),
                Follow = parse.GetValue(follow),
                MinSeverity = ParseSeverity(parse.GetValue(minSeverity)),
            };
            request.RuleIds.Add(parse.GetValue(rule) ?? []);
            using var connection = ServerConnection.From(parse);
            return await new DetectionTail(connection, request, formatName, Console.Out, Console.Error).RunAsync(cancellationToken);
        });
        return command;
    }

    private static Severity ParseSeverity(string? value) => value?.ToLowerInvariant() switch
    {
        null => Severity.Unspecified,
        "info" => Severity.Info, "low" => Severity.Low, "medium" => Severity.Medium, "high" => Severity.High, "critical" => Severity.Critical,
        _ => throw new CliException($"unknown severity '{value}' (expected info, low, medium, high or critical)"),
    };
}

/// <summary>The stream loop: print, remember the sequence, and on a broken connection resume after it.</summary>
internal sealed class DetectionTail(ServerConnection connection, StreamDetectionsRequest request, string format, TextWriter output, TextWriter errors)
{
    private const int MaxAttemptsWithoutFollow = 5;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var formatter = DetectionFormats.Get(format);
        var client = new DetectionService.DetectionServiceClient(connection.Channel);
        var last = request.AfterSequence;
        var backoff = TimeSpan.FromMilliseconds(250);
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var attempt = request.Clone();
            attempt.AfterSequence = last;
            try
            {
                using var call = client.StreamDetections(attempt, connection.Headers, cancellationToken: cancellationToken);
                await foreach (var d in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    // The journal is gap-free and we resume after what we printed, so nothing repeats; the check is a guard.
                    if (d.Sequence <= last) continue;
                    output.WriteLine(format == "json" ? EventJson.Format(d) : formatter.Format(DetectionConverter.FromProto(d)));
                    last = d.Sequence;
                    failures = 0;
                    backoff = TimeSpan.FromMilliseconds(250);
                }
                if (!request.Follow) return ExitCodes.Ok;
                // A follow stream ended cleanly only if the server stopped it: reconnect.
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (RpcException ex) when (!IsTransient(ex.StatusCode))
            {
                throw new CliException($"{connection.Address}: {ex.StatusCode}: {ex.Status.Detail}");
            }
            catch (RpcException ex)
            {
                failures++;
                if (!request.Follow && failures >= MaxAttemptsWithoutFollow)
                    throw new CliException($"{connection.Address}: {ex.StatusCode}: {ex.Status.Detail} (gave up after {failures} attempts)");
                errors.WriteLine($"sentinel: stream interrupted ({ex.StatusCode}: {ex.Status.Detail}); reconnecting in {backoff.TotalSeconds:0.##}s after sequence {last}");
            }
            try { await Task.Delay(backoff, cancellationToken); }
            catch (OperationCanceledException) { break; }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
        return ExitCodes.Ok;
    }

    /// <summary>Worth retrying: the agent is restarting or the network blipped. Not: auth, bad requests, pruned ranges.</summary>
    private static bool IsTransient(StatusCode code) =>
        code is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown or StatusCode.DeadlineExceeded
            or StatusCode.Aborted or StatusCode.ResourceExhausted or StatusCode.Cancelled;
}

/// <summary>How the CLI reaches an agent: address, TLS trust, client certificate and token (shared by stream and status).</summary>
internal sealed class ServerConnection : IDisposable
{
    private static readonly Option<string> Server = new("--server", "-s")
    {
        Description = "The agent: HOST:PORT, https://HOST:PORT or unix:PATH.",
        DefaultValueFactory = _ => $"127.0.0.1:{Sentinel.Server.ServerOptions.DefaultPort}",
    };
    private static readonly Option<string?> Ca = new("--ca") { Description = "Trust the agent's certificate if this CA (PEM) signed it; implies TLS." };
    private static readonly Option<string?> Cert = new("--cert") { Description = "Client certificate (PEM) for mTLS; implies TLS." };
    private static readonly Option<string?> Key = new("--key") { Description = "The client certificate's private key (PEM)." };
    private static readonly Option<string?> Token = new("--token") { Description = "Bearer token (or set SENTINEL_TOKEN)." };

    private ServerConnection(string address, GrpcChannel channel, Metadata headers)
    {
        Address = address; Channel = channel; Headers = headers;
    }

    public string Address { get; }
    public GrpcChannel Channel { get; }
    public Metadata Headers { get; }

    public static void AddOptions(Command command)
    {
        command.Options.Add(Server);
        command.Options.Add(Ca);
        command.Options.Add(Cert);
        command.Options.Add(Key);
        command.Options.Add(Token);
    }

    public static ServerConnection From(ParseResult parse)
    {
        var server = parse.GetValue(Server)!;
        var (ca, cert, key) = (parse.GetValue(Ca), parse.GetValue(Cert), parse.GetValue(Key));
        var token = parse.GetValue(Token) ?? Environment.GetEnvironmentVariable("SENTINEL_TOKEN");
        if ((cert is null) != (key is null)) throw new CliException("--cert and --key go together");

        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = TimeSpan.FromSeconds(30),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
        };
        string uri;
        if (server.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = server[5..];
            handler.ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try { await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), token); }
                catch { socket.Dispose(); throw; }
                return new NetworkStream(socket, ownsSocket: true);
            };
            uri = "http://localhost";
        }
        else if (server.StartsWith("http://", StringComparison.Ordinal) || server.StartsWith("https://", StringComparison.Ordinal))
        {
            uri = server;
        }
        else
        {
            uri = (ca ?? cert) is not null ? $"https://{server}" : $"http://{server}";
        }
        if (!Uri.TryCreate(uri, UriKind.Absolute, out _)) throw new CliException($"bad --server '{server}' (expected HOST:PORT, https://HOST:PORT or unix:PATH)");

        var ssl = new SslClientAuthenticationOptions();
        try
        {
            if (ca is not null)
            {
                var roots = new X509Certificate2Collection();
                roots.ImportFromPemFile(ca);
                ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    if (certificate is null) return false;
                    // Name mismatches still fail; only the trust anchor is ours.
                    if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
                };
            }
            if (cert is not null) ssl.ClientCertificates = [X509Certificate2.CreateFromPemFile(cert, key)];
        }
        catch (Exception ex) when (ex is IOException or CryptographicException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot load TLS material: {ex.Message}");
        }
        handler.SslOptions = ssl;

        var headers = new Metadata();
        if (token is not null) headers.Add("authorization", "Bearer " + token);
        var channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions { HttpHandler = handler, MaxReceiveMessageSize = 16 * 1024 * 1024 });
        return new ServerConnection(server, channel, headers);
    }

    public void Dispose() => Channel.Dispose();
}
