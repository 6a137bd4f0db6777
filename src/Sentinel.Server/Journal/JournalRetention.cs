using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Sentinel.Server.Journal;

/// <summary>
/// The retention policy (an age limit, then a payload size limit, oldest first) and the timer that applies it to the
/// journal every <see cref="ServerOptions.RetentionInterval"/>.
/// </summary>
internal sealed class JournalRetention(DetectionJournal journal, ServerOptions options, ILogger logger)
{
    private CancellationTokenSource? _stop;
    private Task _run = Task.CompletedTask;

    /// <summary>The sequence through which detections are due for pruning at <paramref name="now"/>; 0 for none.</summary>
    public long Cutoff(JournalStore store, long payloadBytes, DateTimeOffset now)
    {
        long cutoff = 0;
        if (options.RetentionAge is { } age)
            cutoff = Math.Max(cutoff, store.CommittedBefore((now - age).ToUnixTimeMilliseconds() * 1_000_000));
        if (options.RetentionBytes is { } maxBytes && payloadBytes > maxBytes)
            cutoff = Math.Max(cutoff, store.SizeCutoff(payloadBytes - maxBytes));
        return cutoff;
    }

    public void Start()
    {
        _stop = new CancellationTokenSource();
        _run = RunAsync(_stop.Token);
    }

    public async Task StopAsync()
    {
        _stop?.Cancel();
        await _run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.RetentionInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try { journal.Prune(DateTimeOffset.UtcNow); }
                catch (SqliteException ex) { logger.LogError(ex, "journal retention failed"); }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
