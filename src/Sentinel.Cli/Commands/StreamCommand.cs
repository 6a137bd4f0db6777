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
/// `sentinel stream --server ADDR [--after SEQ] [--follow] [--checkpoint FILE]`: the SIEM-side tail of the detection
/// journal. It prints each detection once, reconnects with backoff when the agent goes away, and resumes after the
/// last one printed; with a checkpoint, across its own restarts too.
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
        var checkpoint = new Option<string?>("--checkpoint")
        {
            Description = "Resume after the sequence saved in FILE, and save each printed detection's sequence there (atomically).",
        };
        var command = new Command("stream", "Stream detections from an agent's journal, resuming after the last one printed.")
        {
            after, follow, format, minSeverity, rule, checkpoint,
        };
        ServerConnection.AddOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var formatName = parse.GetValue(format)!;
            if (!DetectionFormats.Names.Contains(formatName))
                throw new CliException($"unknown format '{formatName}' (expected one of: {string.Join(", ", DetectionFormats.Names)})");
            var saved = parse.GetValue(checkpoint) is { } path ? new StreamCheckpoint(path) : null;
            var resume = saved?.Read();
            if (resume is not null && parse.GetResult(after) is { Implicit: false })
                throw new CliException($"--after and the checkpoint {saved!.Path} (sequence {resume}) both say where to start: give one");
            var request = new StreamDetectionsRequest
            {
                AfterSequence = resume ?? parse.GetValue(after),
                Follow = parse.GetValue(follow),
                MinSeverity = ParseSeverity(parse.GetValue(minSeverity)),
            };
            request.RuleIds.Add(parse.GetValue(rule) ?? []);
            using var connection = ServerConnection.From(parse);
            // Not Console.Out: it writes a long line in 256-character pieces, so a stream killed mid-line leaves a torn
            // record in the SIEM's pipe. Each detection goes out in one write instead (atomic in a pipe up to 4 KiB).
            await using var stdout = new StreamWriter(Console.OpenStandardOutput(), new System.Text.UTF8Encoding(false), 1 << 16);
            return await new DetectionTail(connection, request, formatName, stdout, Console.Error, saved, console: true).RunAsync(cancellationToken);
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
internal sealed class DetectionTail(ServerConnection connection, StreamDetectionsRequest request, string format, TextWriter output,
    TextWriter errors, StreamCheckpoint? checkpoint = null, bool console = false)
{
    private const int MaxAttemptsWithoutFollow = 5;
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        var formatter = console ? DetectionFormats.ForConsole(format) : DetectionFormats.Get(format);
        var connected = false;
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
                await call.ResponseHeadersAsync;
                connected = true;
                await foreach (var d in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    // The journal is gap-free and we resume after what we printed, so nothing repeats; the check is a guard.
                    if (d.Sequence <= last) continue;
                    checkpoint?.CheckJournal(ContractFields.String(d, "journal_id"));
                    output.WriteLine(format == "json" ? EventJson.Format(d) : formatter.Format(DetectionConverter.FromProto(d)));
                    // Flushed per detection (a follower's SIEM sees it at once), and before it is checkpointed: a crash in
                    // between prints it again, never skips it.
                    output.Flush();
                    checkpoint?.Write(d.Sequence, ContractFields.String(d, "journal_id"));
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
            catch (RpcException ex) when (ex.StatusCode == StatusCode.OutOfRange && checkpoint is not null && last == request.AfterSequence)
            {
                throw new CliException($"{connection.Describe(ex)}: the checkpoint {checkpoint.Path} is past the end of the agent's journal; " +
                                       "was the journal reset? (delete the checkpoint to start over)");
            }
            catch (RpcException ex) when (!IsTransient(ex.StatusCode))
            {
                throw new CliException(connection.Describe(ex));
            }
            catch (RpcException ex)
            {
                failures++;
                // Never reached the agent: a name that does not resolve will not start to, and without --follow
                // a refused connection is an answer, not a blip.
                if (!connected && (!request.Follow || ServerConnection.IsPermanent(ex)))
                    throw new CliException(connection.Describe(ex));
                if (!request.Follow && failures >= MaxAttemptsWithoutFollow)
                    throw new CliException($"{connection.Describe(ex)} (gave up after {failures} attempts)");
                errors.WriteLine($"sentinel: {connection.Describe(ex)}; reconnecting in {backoff.TotalSeconds:0.##}s after sequence {last}");
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
    private static readonly Option<string?> Token = new("--token") { Description = "Bearer token (or set SENTINEL_TOKEN); visible to ps: prefer --token-file." };
    private static readonly Option<string?> TokenFileOption = new("--token-file") { Description = "Read the bearer token from this file (first line)." };

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
        command.Options.Add(TokenFileOption);
    }

    public static ServerConnection From(ParseResult parse)
    {
        var given = parse.GetValue(Server)!;
        var server = WithDefaultPort(given);
        var (ca, cert, key) = (parse.GetValue(Ca), parse.GetValue(Cert), parse.GetValue(Key));
        var token = TokenFile.Resolve(parse.GetValue(Token), parse.GetValue(TokenFileOption)) ?? Environment.GetEnvironmentVariable("SENTINEL_TOKEN");
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
        if (!Uri.TryCreate(uri, UriKind.Absolute, out _)) throw new CliException($"bad --server '{given}' (expected HOST:PORT, https://HOST:PORT or unix:PATH)");

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

    /// <summary>A bare host (no port, no scheme) means the agent's default port.</summary>
    private static string WithDefaultPort(string server)
    {
        if (server.Contains("://", StringComparison.Ordinal) || server.StartsWith("unix:", StringComparison.Ordinal)) return server;
        var bracket = server.LastIndexOf(']');
        var colon = server.LastIndexOf(':');
        var hasPort = colon > bracket && (bracket >= 0 || server.IndexOf(':') == colon);
        return hasPort || server.Length == 0 ? server : $"{server}:{Sentinel.Server.ServerOptions.DefaultPort}";
    }

    /// <summary>
    /// One line naming the address and the cause: "cannot connect to nohost:50551: name does not resolve", rather
    /// than gRPC's "Error connecting to subchannel" and its inner exceptions.
    /// </summary>
    public string Describe(RpcException ex)
    {
        if (Address.StartsWith("unix:", StringComparison.Ordinal) && Inner<SocketException>(ex) is { SocketErrorCode: SocketError.AddressNotAvailable })
            return $"cannot connect to {Address}: no such socket (is the agent listening there?)";
        if (Cause(ex) is { } cause) return $"cannot connect to {Address}: {cause}";
        return ex.StatusCode == StatusCode.Unavailable
            ? $"lost the connection to {Address}: {Detail(ex)}"
            : $"{Address}: {ex.StatusCode}: {ex.Status.Detail}";
    }

    /// <summary>A failure no retry will cure: the name does not resolve.</summary>
    public static bool IsPermanent(RpcException ex) =>
        Inner<SocketException>(ex) is { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData };

    private static string? Cause(RpcException ex)
    {
        if (Inner<System.Security.Authentication.AuthenticationException>(ex) is { } tls)
            return "TLS handshake failed: " + (tls.InnerException?.Message ?? tls.Message);
        return Inner<SocketException>(ex) switch
        {
            null => null,
            { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData } => "name does not resolve",
            { SocketErrorCode: SocketError.TryAgain } => "name does not resolve (temporary failure in name resolution)",
            { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused (is the agent running, and listening there?)",
            { SocketErrorCode: SocketError.TimedOut } => "timed out",
            { SocketErrorCode: SocketError.NetworkUnreachable } => "network unreachable",
            { SocketErrorCode: SocketError.HostUnreachable } => "host unreachable",
            { SocketErrorCode: SocketError.AddressNotAvailable or SocketError.AccessDenied } and var s => s.Message,
            var s => s.Message.Length > 0 ? s.Message : s.SocketErrorCode.ToString(),
        };
    }

    private static string Detail(RpcException ex) =>
        ex.Status.DebugException is { } debug ? Innermost(debug).Message : $"{ex.StatusCode}: {ex.Status.Detail}";

    private static T? Inner<T>(RpcException ex) where T : Exception
    {
        for (var e = ex.Status.DebugException; e is not null; e = e.InnerException)
            if (e is T match) return match;
        return null;
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}

/// <summary>--token-file: the token comes from a file, so it never needs the command line (where ps shows it).</summary>
internal static class TokenFile
{
    public static string? Resolve(string? token, string? path)
    {
        if (path is null) return token;
        if (token is not null) throw new CliException("--token and --token-file both give the token: give one");
        string line;
        try { line = FirstLine(path).Trim(); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read the token file {path}: {ex.Message}");
        }
        if (line.Length == 0) throw new CliException($"{path}: the token file is empty (expected the token on its first line)");
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.OtherRead | UnixFileMode.GroupRead)) != 0)
            Console.Error.WriteLine($"sentinel: warning: {path} is readable by other users (chmod 600 {path})");
        return line;
    }

    /// <summary>Longer than any bearer token: a first line past it is not one (a link to /dev/zero, a log file).</summary>
    private const int MaxLine = 64 * 1024;

    /// <summary>
    /// Only the first line is read, so a pipe (<c>--token-file &lt;(pass show siem)</c>) works and a file that never ends
    /// is refused instead of read until memory runs out.
    /// </summary>
    private static string FirstLine(string path)
    {
        using var reader = new StreamReader(path);
        var line = new System.Text.StringBuilder();
        for (int c; (c = reader.Read()) >= 0 && c != '\n';)
        {
            if (line.Length == MaxLine) throw new IOException($"its first line is longer than {MaxLine / 1024} KiB: not a token");
            line.Append((char)c);
        }
        return line.ToString();
    }
}

/// <summary>
/// The stream's resume point on disk: <c>{"sequence":N,"journalId":"..."}</c>, the last sequence printed and the journal
/// it came from. Each write goes to a temp file in the same directory and is renamed over the old one, so a crash of
/// the stream leaves the old or the new checkpoint, never a torn one. No fsync per detection: it would cap the
/// stream at the disk's sync rate (about 75 detections/s measured here); a power loss may roll it back, which
/// repeats detections, never skips them.
/// </summary>
internal sealed class StreamCheckpoint(string path)
{
    public string Path { get; } = path;

    /// <summary>The journal the saved sequence belongs to ("" when unknown).</summary>
    public string JournalId { get; private set; } = "";

    /// <summary>The saved sequence; null when there is no checkpoint yet. A file we cannot read as one is an error.</summary>
    public ulong? Read()
    {
        string text;
        try
        {
            if (!File.Exists(Path)) return null;
            text = File.ReadAllText(Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot read the checkpoint {Path}: {ex.Message}");
        }
        try
        {
            if (System.Text.Json.Nodes.JsonNode.Parse(text) is System.Text.Json.Nodes.JsonObject o
                && o["sequence"] is System.Text.Json.Nodes.JsonValue v && v.TryGetValue<ulong>(out var sequence))
            {
                if (o["journalId"] is System.Text.Json.Nodes.JsonValue j && j.TryGetValue<string>(out var journal)) JournalId = journal;
                return sequence;
            }
        }
        catch (System.Text.Json.JsonException)
        {
        }
        throw new CliException($"{Path}: not a stream checkpoint (expected {{\"sequence\":N}}); fix or delete it to start over");
    }

    /// <summary>Sequences only mean something within one journal: a different journal id means it was reset.</summary>
    public void CheckJournal(string journalId)
    {
        if (JournalId.Length > 0 && journalId.Length > 0 && journalId != JournalId)
            throw new CliException($"the agent's journal was reset (journal id {journalId}; the checkpoint {Path} is for {JournalId}): " +
                                   "delete the checkpoint to stream the new journal from its start");
    }

    public void Write(ulong sequence, string journalId)
    {
        if (journalId.Length > 0) JournalId = journalId;
        var json = new System.Text.Json.Nodes.JsonObject { ["sequence"] = sequence };
        if (JournalId.Length > 0) json["journalId"] = JournalId;
        var temp = Path + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                stream.Write(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString() + "\n"));
            }
            File.Move(temp, Path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot write the checkpoint {Path}: {ex.Message}");
        }
    }
}

/// <summary>
/// Contract fields that arrive with the fleet change (Detection.journal_id, JournalStatus.journal_id,
/// AgentStatus.host_id), read by name so this code works whether or not the generated type has them yet.
/// </summary>
internal static class ContractFields
{
    public static string String(Google.Protobuf.IMessage message, string field) =>
        message.Descriptor.FindFieldByName(field)?.Accessor.GetValue(message) as string ?? "";
}
