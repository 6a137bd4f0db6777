using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Sentinel.Fleet.Gateway;

/// <summary>Where a read starts and what it selects: one filter subject (nats-server 2.9 takes one).</summary>
internal readonly record struct TailStart(string FilterSubject, ulong AfterSequence, bool LastPerSubject = false);

/// <summary>
/// Reads a JetStream stream through ephemeral, unacknowledged pull consumers: first what is stored now, in
/// batches, then live when following. At most one batch is in flight, so a slow reader holds the gateway's memory
/// at one batch whatever the stream's size. The position is ours: when a consumer is lost (a node dies, the
/// connection drops) a new one continues after the last message delivered.
/// </summary>
internal static class StreamTail
{
    private static readonly TimeSpan InactiveThreshold = TimeSpan.FromSeconds(30);

    public static async IAsyncEnumerable<INatsJSMsg<byte[]>> ReadAsync(
        INatsJSContext js, string stream, TailStart start, int batch, bool follow, Action? caughtUp, ILogger logger,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var last = start.AfterSequence;
        var lastPerSubject = start.LastPerSubject;
        var fetching = true;
        var failures = 0;
        while (true)
        {
            var consumer = await CreateAsync(js, stream, start.FilterSubject, last, lastPerSubject, cancellationToken).ConfigureAwait(false);
            var failed = false;
            // Fetch until a short batch says nothing more is stored right now...
            while (fetching)
            {
                var count = 0;
                var messages = consumer.FetchNoWaitAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = batch }, cancellationToken: cancellationToken);
                await using var e = messages.GetAsyncEnumerator(cancellationToken);
                while (true)
                {
                    try
                    {
                        if (!await e.MoveNextAsync().ConfigureAwait(false)) break;
                    }
                    catch (NatsJSException ex) when (failures < 10)
                    {
                        logger.LogInformation("reading {Stream} after {Sequence}: {Error}; continuing with a new consumer", stream, last, ex.Message);
                        failed = true;
                        break;
                    }
                    count++;
                    last = e.Current.Metadata?.Sequence.Stream ?? last;
                    lastPerSubject = false;
                    failures = 0;
                    yield return e.Current;
                }
                if (failed) break;
                if (count < batch)
                {
                    fetching = false;
                    caughtUp?.Invoke();
                }
            }
            if (failed)
            {
                failures++;
                await Task.Delay(TimeSpan.FromMilliseconds(100 * failures), cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (!follow) yield break;

            // ...then follow live with the same consumer.
            var consume = consumer.ConsumeAsync<byte[]>(opts: new NatsJSConsumeOpts { MaxMsgs = batch }, cancellationToken: cancellationToken);
            await using var live = consume.GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                try
                {
                    if (!await live.MoveNextAsync().ConfigureAwait(false)) break;
                }
                catch (NatsJSException ex) when (failures < 10)
                {
                    logger.LogInformation("following {Stream} after {Sequence}: {Error}; continuing with a new consumer", stream, last, ex.Message);
                    break;
                }
                last = live.Current.Metadata?.Sequence.Stream ?? last;
                lastPerSubject = false;
                failures = 0;
                yield return live.Current;
            }
            failures++;
            await Task.Delay(TimeSpan.FromMilliseconds(100 * failures), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<INatsJSConsumer> CreateAsync(INatsJSContext js, string stream, string filter, ulong after, bool lastPerSubject,
        CancellationToken cancellationToken)
    {
        var config = new ConsumerConfig
        {
            // Named, so the client builds CONSUMER.CREATE.<stream>.<name>.<filter>, which nats-server 2.9 parses right;
            // still ephemeral: no durable name, and the server removes it once idle.
            Name = "sentinel-gw-" + Guid.NewGuid().ToString("N"),
            FilterSubject = filter,
            AckPolicy = ConsumerConfigAckPolicy.None,
            MemStorage = true,
            NumReplicas = 1,
            InactiveThreshold = InactiveThreshold,
            DeliverPolicy = lastPerSubject ? ConsumerConfigDeliverPolicy.LastPerSubject
                : after == 0 ? ConsumerConfigDeliverPolicy.All : ConsumerConfigDeliverPolicy.ByStartSequence,
        };
        if (!lastPerSubject && after != 0) config.OptStartSeq = after + 1;
        return await js.CreateOrUpdateConsumerAsync(stream, config, cancellationToken).ConfigureAwait(false);
    }
}
