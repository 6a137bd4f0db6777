using Google.Protobuf;
using Microsoft.Extensions.Logging;
using NATS.Client.JetStream;
using Sentinel.V1;

namespace Sentinel.Fleet.Gateway;

/// <summary>
/// Turns a stream message into the detection a client sees: the stream sequence as `sequence`, the agent's own in
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

    /// <summary>
    /// Fills <paramref name="into"/> from a stream message; false when it is not a detection. A well-formed message is
    /// passed through as its bytes; only one the wire check cannot vouch for is parsed.
    /// </summary>
    public bool TryDecode(INatsJSMsg<byte[]> msg, ulong sequence, FleetDetection into) => TryDecode(msg.Subject, msg.Data, sequence, into);

    internal bool TryDecode(string subject, byte[]? data, ulong sequence, FleetDetection into)
    {
        var host = FleetSubjects.HostOf(subject);
        if (host is null) return Skip(sequence, subject, "not a host subject");
        if (data is not { Length: > 0 }) return Skip(sequence, subject, "empty payload");
        if (WireShape.Detection.Check(data, out var facts))
        {
            if (facts.RuleIdLength == 0) return Skip(sequence, subject, "a detection without a rule id");
            into.SetStored(data, facts, sequence, host);
            return true;
        }
        Detection d;
        try
        {
            d = Detection.Parser.ParseFrom(data);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return Skip(sequence, subject, "not a sentinel.v1.Detection: " + ex.Message);
        }
        if (d.RuleId.Length == 0) return Skip(sequence, subject, "a detection without a rule id");
        if (d.AgentSequence == 0) d.AgentSequence = d.Sequence;
        d.Sequence = sequence;
        d.HostId = host;
        into.SetParsed(d);
        return true;
    }

    private bool Skip(ulong sequence, string subject, string why)
    {
        lock (_lock)
        {
            if (_skipped.Count >= MaxRemembered) _skipped.Clear();
            if (!_skipped.Add(sequence)) return false;
        }
        Interlocked.Increment(ref _skippedCount);
        logger.LogWarning("skipped the malformed message at stream sequence {Sequence} on {Subject}: {Why}", sequence, subject, why);
        return false;
    }
}
