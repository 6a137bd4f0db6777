using Google.Protobuf;
using Microsoft.Extensions.Logging;
using NATS.Client.JetStream;
using Sentinel.V1;

namespace Sentinel.Fleet.Gateway;

/// <summary>
/// Turns a stream message into the Detection a client sees: the stream sequence as `sequence`, the agent's own in
/// `agent_sequence`, and the subject's host as `host_id` (the subject is what NATS permissions guard). A message
/// that is not a detection is skipped, logged and counted once.
/// </summary>
public sealed class StreamDecoder(ILogger<StreamDecoder> logger)
{
    private const int MaxRemembered = 100_000;
    private readonly Lock _lock = new();
    private readonly HashSet<ulong> _skipped = [];
    private long _skippedCount;

    /// <summary>Malformed messages seen, each counted once however many clients read past it.</summary>
    public long Skipped => Interlocked.Read(ref _skippedCount);

    public Detection? Decode(INatsJSMsg<byte[]> msg, ulong sequence)
    {
        var host = FleetSubjects.HostOf(msg.Subject);
        if (host is null) return Skip(sequence, msg.Subject, "not a host subject");
        if (msg.Data is not { Length: > 0 } data) return Skip(sequence, msg.Subject, "empty payload");
        Detection d;
        try
        {
            d = Detection.Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return Skip(sequence, msg.Subject, "not a sentinel.v1.Detection: " + ex.Message);
        }
        if (d.RuleId.Length == 0) return Skip(sequence, msg.Subject, "a detection without a rule id");
        if (d.AgentSequence == 0) d.AgentSequence = d.Sequence;
        d.Sequence = sequence;
        d.HostId = host;
        return d;
    }

    private Detection? Skip(ulong sequence, string subject, string why)
    {
        lock (_lock)
        {
            if (_skipped.Count >= MaxRemembered) _skipped.Clear();
            if (!_skipped.Add(sequence)) return null;
        }
        Interlocked.Increment(ref _skippedCount);
        logger.LogWarning("skipped the malformed message at stream sequence {Sequence} on {Subject}: {Why}", sequence, subject, why);
        return null;
    }
}
