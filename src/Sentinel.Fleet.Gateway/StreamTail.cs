using System.Runtime.CompilerServices;
using NATS.Client.JetStream;

namespace Sentinel.Fleet.Gateway;

/// <summary>
/// Reads a JetStream stream through an ordered (ephemeral, unacked) consumer: first what is stored now, in
/// batches, then live when following. At most one batch is in flight, so a slow reader holds the gateway's
/// memory at one batch whatever the stream's size.
/// </summary>
internal static class StreamTail
{
    public static async IAsyncEnumerable<INatsJSMsg<byte[]>> ReadAsync(
        INatsJSContext js, string stream, NatsJSOrderedConsumerOpts opts, int batch, bool follow, Action? caughtUp,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var consumer = await js.CreateOrderedConsumerAsync(stream, opts, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var count = 0;
            await foreach (var msg in consumer.FetchNoWaitAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = batch }, cancellationToken: cancellationToken)
                               .ConfigureAwait(false))
            {
                count++;
                yield return msg;
            }
            if (count < batch) break; // a short batch: nothing more is stored right now
        }
        caughtUp?.Invoke();
        if (!follow) yield break;
        var consume = new NatsJSConsumeOpts { MaxMsgs = batch };
        await foreach (var msg in consumer.ConsumeAsync<byte[]>(opts: consume, cancellationToken: cancellationToken).ConfigureAwait(false))
            yield return msg;
    }
}
