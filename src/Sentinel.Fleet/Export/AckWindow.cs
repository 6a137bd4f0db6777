using System.Diagnostics;
using System.Text.Json;
using NATS.Client.JetStream;

namespace Sentinel.Fleet.Export;

/// <summary>
/// The exporter's publishes awaiting their JetStream ack: a contiguous range of journal sequences after the last
/// acknowledged one. Acks may arrive in any order; the acknowledged sequence only moves over a contiguous run.
/// One ring slot per sequence in flight, so tracking costs no allocation per publish.
/// </summary>
internal sealed class AckWindow(int capacity)
{
    private readonly bool[] _acked = new bool[capacity];
    private readonly long[] _sentAt = new long[capacity];

    /// <summary>The last sequence acknowledged with every one before it.</summary>
    public ulong Acked { get; private set; }

    /// <summary>The last sequence published.</summary>
    public ulong Sent { get; private set; }

    public int InFlight => (int)(Sent - Acked);
    public int Room => capacity - InFlight;

    /// <summary>When <see cref="Acked"/> last moved, or the window last went from empty to not.</summary>
    private long _progressAt;

    public void Reset(ulong acked)
    {
        Acked = Sent = acked;
    }

    /// <summary>Publishes are waiting and none has been answered for <paramref name="after"/>.</summary>
    public bool Stalled(TimeSpan after) => InFlight > 0 && Stopwatch.GetElapsedTime(_progressAt) > after;

    public void OnSent(ulong sequence)
    {
        Debug.Assert(sequence > Sent && Room > 0);
        var slot = Slot(sequence);
        _acked[slot] = false;
        _sentAt[slot] = Stopwatch.GetTimestamp();
        if (InFlight == 0) _progressAt = _sentAt[slot];
        Sent = sequence;
    }

    /// <summary>Records an ack; returns false for a sequence not in flight (a stale or forged reply).</summary>
    public bool OnAcked(ulong sequence)
    {
        if (sequence <= Acked || sequence > Sent) return false;
        _acked[Slot(sequence)] = true;
        var before = Acked;
        while (Acked < Sent && _acked[Slot(Acked + 1)]) Acked++;
        if (Acked != before) _progressAt = Stopwatch.GetTimestamp();
        return true;
    }

    /// <summary>How long the oldest unacknowledged publish has waited; zero when nothing is in flight.</summary>
    public TimeSpan OldestWait => InFlight == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_sentAt[Slot(Acked + 1)]);

    private int Slot(ulong sequence) => (int)(sequence % (ulong)capacity);

    /// <summary>
    /// Reads a JetStream publish ack: {"stream":..,"seq":..,"duplicate":..} or {"error":{"code":..,"err_code":..,
    /// "description":..}}. A duplicate is a success: the stream already holds that message id.
    /// </summary>
    public static void ThrowIfRefused(ReadOnlySpan<byte> payload, ulong sequence)
    {
        if (payload.IsEmpty) throw new NatsJSException($"empty ack for detection {sequence}");
        var reader = new Utf8JsonReader(payload);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw new NatsJSException($"malformed ack for detection {sequence}");
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!reader.ValueTextEquals("error"u8))
                {
                    reader.Read();
                    reader.Skip();
                    continue;
                }
                reader.Read();
                string? description = null;
                long errCode = 0;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isDescription = reader.ValueTextEquals("description"u8);
                    var isErrCode = reader.ValueTextEquals("err_code"u8);
                    reader.Read();
                    if (isDescription && reader.TokenType == JsonTokenType.String) description = reader.GetString();
                    else if (isErrCode && reader.TokenType == JsonTokenType.Number) errCode = reader.GetInt64();
                    else reader.Skip();
                }
                throw new NatsJSException($"stream refused detection {sequence}: {description ?? "no reason given"} ({errCode})");
            }
        }
        catch (JsonException ex)
        {
            throw new NatsJSException($"malformed ack for detection {sequence}: {ex.Message}");
        }
    }
}
