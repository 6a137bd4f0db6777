using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;

namespace Sentinel.Fleet.RulePacks;

/// <summary>
/// Follows <c>latest</c> in the rule-pack store and hands each new pack to the deployment. The broker being down
/// (at start or later) only delays packs: the agent keeps running the pack it has, and this retries with backoff.
/// </summary>
public sealed class RulePackFollower(RulePackDeployment deployment, FleetOptions fleet, ILogger<RulePackFollower> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // SIGHUP reloads a rules directory; a pack changes only through the store, so it must not end the agent here.
        using var sighup = OperatingSystem.IsWindows() ? null : System.Runtime.InteropServices.PosixSignalRegistration.Create(
            System.Runtime.InteropServices.PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true;
                logger.LogInformation("SIGHUP: rule pack {Version} keeps running; packs change only through {Bucket}", deployment.Version, RulePackStore.Bucket);
            });
        await using var nats = new NatsConnection(fleet.ToNatsOpts("sentinel-rule-packs"));
        var delay = TimeSpan.FromMilliseconds(500);
        string? lastProblem = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var store = await RulePackStore.OpenAsync(nats, create: false, ct: stoppingToken);
                if (lastProblem is not null) logger.LogWarning("rule packs: following {Bucket} again", RulePackStore.Bucket);
                lastProblem = null;
                delay = TimeSpan.FromMilliseconds(500);
                await foreach (var meta in store.WatchLatestAsync(stoppingToken))
                {
                    var version = meta.Metadata?.GetValueOrDefault("version");
                    if (meta.Size > (ulong)deployment.MaxBytes)
                    {
                        deployment.Reject(version, $"too large: {meta.Size} bytes (limit {deployment.MaxBytes})");
                        continue;
                    }
                    byte[] bytes;
                    try
                    {
                        bytes = await store.ReadAsync(RulePackStore.Latest, deployment.MaxBytes, stoppingToken);
                    }
                    catch (Exception ex) when (ex is RulePackException or NATS.Client.ObjectStore.NatsObjException)
                    {
                        deployment.Reject(version, ex.Message);
                        continue;
                    }
                    deployment.Apply(bytes);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Said once per distinct problem; the retry loop is the normal state while the broker is away.
                var problem = ex is NATS.Client.JetStream.NatsJSApiException { Error.Code: 404 }
                    ? $"no {RulePackStore.Bucket} store yet (nothing pushed)"
                    : ex.Message;
                if (problem != lastProblem)
                    logger.LogWarning("rule packs: {Problem}; running pack {Version}, retrying", problem, deployment.Version);
                lastProblem = problem;
                try { await Task.Delay(delay, stoppingToken); }
                catch (OperationCanceledException) { break; }
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));
            }
        }
    }
}
