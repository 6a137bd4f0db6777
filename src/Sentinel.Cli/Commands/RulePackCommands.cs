using System.CommandLine;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using Sentinel.Fleet;
using Sentinel.Fleet.RulePacks;
using Sentinel.Rules;
using Sentinel.Rules.Testing;

namespace Sentinel.Cli;

/// <summary>`sentinel rules keygen|push`: signed rule packs for the fleet (docs/FLEET.md, "Rule rollout").</summary>
internal static class RulePackCommands
{
    /// <summary>The subcommands `rules` gains.</summary>
    public static IEnumerable<Command> All() => [Keygen(), Push()];

    private static Command Keygen()
    {
        var output = new Option<string>("--out")
        {
            Description = "Path prefix: writes PREFIX.key (private, mode 0600) and PREFIX.pub.",
            DefaultValueFactory = _ => "sentinel-rules",
        };
        var command = new Command("keygen", "Make an Ed25519 key pair for signing rule packs.") { output };
        command.SetAction(parse =>
        {
            var key = RulePackKeys.Generate();
            var (privatePath, publicPath) = Run(() => RulePackKeys.WritePair(key, parse.GetValue(output)!));
            Console.WriteLine($"wrote {privatePath} (private, mode 0600: keep it offline; it signs what every agent runs)");
            Console.WriteLine($"wrote {publicPath} (give it to agents: sentinel run --rules nats --rules-pubkey {publicPath})");
            Console.WriteLine($"key id {key.KeyId}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Push()
    {
        var dir = new Argument<string>("dir") { Description = "The rules directory: each .csx and its .fixtures.jsonl." };
        var key = new Option<string>("--key") { Description = "The private key file from `sentinel rules keygen`.", Required = true };
        var version = new Option<string?>("--version")
        {
            Description = "The pack's version (letters, digits, . _ + -); default: the UTC time, yyyyMMdd.HHmmss.",
        };
        var replicas = new Option<int>("--nats-replicas")
        {
            Description = "Replicas of the SENTINEL_RULES store when this push creates it.", DefaultValueFactory = _ => 1,
        };
        var nats = new NatsOptions(required: true);
        var command = new Command("push", "Lint and test a rules directory, then sign it and publish it as a versioned pack that --rules nats agents apply.")
        {
            dir, key, version, replicas, nats.Servers, nats.Creds, nats.TlsCa,
        };
        command.SetAction(async parse =>
        {
            var signingKey = Run(() => RulePackKeys.ReadPrivate(parse.GetValue(key)!));
            var directory = parse.GetValue(dir)!;
            var packVersion = parse.GetValue(version) ?? DateTime.UtcNow.ToString("yyyyMMdd.HHmmss");
            if (!RulePackManifest.IsValidVersion(packVersion))
                throw new CliException($"bad --version '{packVersion}': letters, digits, '.', '_', '+', '-', at most 64");
            CheckBeforePush(directory);
            var (manifest, pack) = Run(() => RulePack.Create(RulePack.ReadDirectory(directory), packVersion, DateTimeOffset.UtcNow, signingKey));
            if (pack.Length > RulePack.DefaultMaxBytes)
                throw new CliException($"the pack is too large: {pack.Length} bytes (agents refuse more than {RulePack.DefaultMaxBytes})");

            var fleet = nats.Parse(parse)!;
            await using var connection = new NatsConnection(fleet.ToNatsOpts("sentinel-rules-push") with { RetryOnInitialConnect = false });
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await connection.ConnectAsync();
                var store = await RulePackStore.OpenAsync(connection, create: true, parse.GetValue(replicas), timeout.Token);
                await store.PublishAsync(pack, manifest, timeout.Token);
            }
            catch (RulePackException ex)
            {
                throw new CliException(ex.Message);
            }
            catch (Exception ex) when (ex is NatsException or OperationCanceledException or TimeoutException)
            {
                throw new CliException($"cannot publish to NATS at {string.Join(",", fleet.Servers)}: {ex.Message}");
            }
            Console.WriteLine($"pushed rule pack {manifest.Version}: sha256 {manifest.ContentHash}, {manifest.Files.Count} files, " +
                              $"{pack.Length} bytes, signed by key {signingKey.KeyId}, to {RulePackStore.Bucket}");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The same checks as `rules lint` and `rules test`; any failure refuses the push (exit 1) before anything is signed.</summary>
    private static void CheckBeforePush(string directory)
    {
        IReadOnlyList<string> files;
        try
        {
            files = RuleDirectories.RuleFiles(directory);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new CliException(ex.Message);
        }
        if (files.Count == 0) throw new CliException($"no .csx rule files in {directory}");
        var failures = new List<string>();
        foreach (var file in files)
        {
            failures.AddRange(RuleLinter.Lint(file).Where(d => d.IsError).Select(d => $"lint: {d}"));
            try
            {
                var report = new FixtureRunner(new RuleEngineOptions(), NullLogger.Instance).Run(file);
                if (report.Problem is not null) failures.Add($"test: {file}: {report.Problem}");
                failures.AddRange(report.Cases.Where(c => !c.Passed).Select(c => $"test: {report.FixtureFile}:{c.Line}: case '{c.Case}': {c.Failure}"));
            }
            catch (FixtureFormatException ex)
            {
                failures.Add($"test: {ex.Message}");
            }
        }
        foreach (var failure in failures.Distinct()) Console.WriteLine(failure);
        if (failures.Count > 0)
            throw new CliException($"push refused: {failures.Count} lint/test failure(s) in {directory}; nothing was signed or published", ExitCodes.Findings);
        Console.WriteLine($"{files.Count} rule file(s): lint and fixtures pass");
    }

    private static T Run<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception ex) when (ex is RulePackException or IOException or UnauthorizedAccessException)
        {
            throw new CliException(ex.Message);
        }
    }
}

/// <summary>`--nats URL[,URL...] --nats-creds FILE --nats-tls-ca FILE`, as `run` and `rules push` take them.</summary>
internal sealed class NatsOptions(bool required)
{
    public Option<string?> Servers { get; } = new("--nats")
    {
        Description = "NATS server URL(s), comma-separated: nats://HOST:PORT or tls://HOST:PORT.", Required = required,
    };
    public Option<string?> Creds { get; } = new("--nats-creds") { Description = "A NATS .creds file (user JWT and nkey seed)." };
    public Option<string?> TlsCa { get; } = new("--nats-tls-ca") { Description = "Require TLS to NATS, verified against this CA (PEM)." };

    /// <summary>The connection settings, or null when --nats was not given.</summary>
    public FleetOptions? Parse(ParseResult parse)
    {
        if (parse.GetValue(Servers) is not { } servers) return null;
        try
        {
            var options = new FleetOptions
            {
                Servers = FleetOptions.ParseServers(servers), CredsFile = parse.GetValue(Creds), TlsCaFile = parse.GetValue(TlsCa),
            };
            options.Validate();
            return options;
        }
        catch (FleetConfigurationException ex)
        {
            throw new CliException(ex.Message);
        }
    }
}
