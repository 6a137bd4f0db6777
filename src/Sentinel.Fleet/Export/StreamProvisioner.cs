using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Sentinel.Fleet.Export;

/// <summary>
/// Creates the detections and heartbeat streams when they are missing, and refuses an existing stream whose
/// settings would break the export guarantees, naming the setting.
/// </summary>
public static class StreamProvisioner
{
    public const string HeartbeatStream = "SENTINEL_HEARTBEATS";
    private const int StreamNotFound = 10059;

    public static StreamConfig DetectionsConfig(string name, ExportOptions options) => new(name, [FleetSubjects.AllDetections])
    {
        Description = "Sentinel detections from every host (sentinel.v1.Detection, Nats-Msg-Id <journal-id>:<agent-seq>)",
        Storage = StreamConfigStorage.File,
        Retention = StreamConfigRetention.Limits,
        Discard = StreamConfigDiscard.Old,
        NumReplicas = options.Replicas,
        MaxAge = options.MaxAge ?? TimeSpan.Zero,
        MaxBytes = options.MaxBytes ?? -1,
        DuplicateWindow = options.DuplicateWindow,
    };

    public static StreamConfig HeartbeatsConfig(int replicas) => new(HeartbeatStream, [FleetSubjects.AllHeartbeats])
    {
        Description = "The last sentinel.v1.Heartbeat of every host",
        Storage = StreamConfigStorage.File,
        Retention = StreamConfigRetention.Limits,
        Discard = StreamConfigDiscard.Old,
        NumReplicas = replicas,
        MaxMsgsPerSubject = 1,
    };

    /// <summary>Creates the stream or checks the existing one; throws <see cref="FleetConfigurationException"/> on a conflict.</summary>
    public static async Task<StreamInfo> EnsureDetectionsAsync(INatsJSContext js, string name, ExportOptions options, CancellationToken ct)
    {
        var wanted = DetectionsConfig(name, options);
        var existing = await GetOrCreateAsync(js, wanted, ct).ConfigureAwait(false);
        if (Conflict(existing.Config, wanted, options) is { } problem)
            throw new FleetConfigurationException($"stream {name} exists with a conflicting configuration: {problem}");
        return existing;
    }

    public static async Task<StreamInfo> EnsureHeartbeatsAsync(INatsJSContext js, int replicas, CancellationToken ct)
    {
        var wanted = HeartbeatsConfig(replicas);
        var existing = await GetOrCreateAsync(js, wanted, ct).ConfigureAwait(false);
        var c = existing.Config;
        if (!Covers(c.Subjects, FleetSubjects.Heartbeat("x")))
            throw new FleetConfigurationException($"stream {HeartbeatStream} exists with a conflicting configuration: subjects {Join(c.Subjects)} do not include {FleetSubjects.AllHeartbeats}");
        if (c.Retention != StreamConfigRetention.Limits)
            throw new FleetConfigurationException($"stream {HeartbeatStream} exists with a conflicting configuration: retention is {c.Retention}, heartbeats need limits");
        return existing;
    }

    /// <summary>The first setting of <paramref name="existing"/> that breaks what the exporter relies on, or null.</summary>
    public static string? Conflict(StreamConfig existing, StreamConfig wanted, ExportOptions options)
    {
        if (!Covers(existing.Subjects, FleetSubjects.Detections("x")))
            return $"subjects {Join(existing.Subjects)} do not include {FleetSubjects.AllDetections}";
        if (existing.Retention != StreamConfigRetention.Limits)
            return $"retention is {existing.Retention}: consumers would delete detections (the fleet stream needs limits retention)";
        if (existing.Discard != StreamConfigDiscard.Old && (existing.MaxBytes > 0 || existing.MaxMsgs > 0 || existing.MaxAge > TimeSpan.Zero))
            return "discard is new: a full stream would refuse detections (the fleet stream needs discard old)";
        if (existing.Storage != StreamConfigStorage.File)
            return $"storage is {existing.Storage}: a server restart would lose detections (--nats-stream needs file storage)";
        if (existing.NumReplicas != wanted.NumReplicas)
            return $"replicas is {existing.NumReplicas}, --nats-replicas asks for {wanted.NumReplicas}";
        if (existing.DuplicateWindow < TimeSpan.FromSeconds(30))
            return $"duplicate_window is {existing.DuplicateWindow.TotalSeconds:0.#} s: too short to deduplicate a restarted agent's republishes (at least 30 s)";
        if (existing.NoAck) return "no_ack is set: publishes would never be acknowledged";
        if (existing.Sealed) return "the stream is sealed";
        if (options.MaxAge is { } age && existing.MaxAge != age)
            return $"max_age is {Describe(existing.MaxAge)}, --nats-max-age asks for {Describe(age)}";
        if (options.MaxBytes is { } bytes && existing.MaxBytes != bytes)
            return $"max_bytes is {existing.MaxBytes}, --nats-max-bytes asks for {bytes}";
        return null;
    }

    private static async Task<StreamInfo> GetOrCreateAsync(INatsJSContext js, StreamConfig wanted, CancellationToken ct)
    {
        try
        {
            return (await js.GetStreamAsync(wanted.Name!, cancellationToken: ct).ConfigureAwait(false)).Info;
        }
        catch (NatsJSApiException ex) when (ex.Error.ErrCode == StreamNotFound)
        {
        }
        try
        {
            return (await js.CreateStreamAsync(wanted, ct).ConfigureAwait(false)).Info;
        }
        catch (NatsJSApiException ex) when (ex.Error.ErrCode == 10058) // created by another agent meanwhile
        {
            return (await js.GetStreamAsync(wanted.Name!, cancellationToken: ct).ConfigureAwait(false)).Info;
        }
        catch (NatsJSApiException ex)
        {
            throw new FleetConfigurationException($"cannot create stream {wanted.Name}: {ex.Error.Description}");
        }
    }

    /// <summary>Whether a subject filter list matches <paramref name="subject"/> (tokens, '*' and '>').</summary>
    private static bool Covers(ICollection<string>? filters, string subject)
    {
        if (filters is null) return false;
        var tokens = subject.Split('.');
        foreach (var filter in filters)
        {
            var f = filter.Split('.');
            var match = true;
            for (var i = 0; i < f.Length && match; i++)
            {
                if (f[i] == ">") { match = i < tokens.Length; break; }
                match = i < tokens.Length && (f[i] == "*" || f[i] == tokens[i]) && (i < f.Length - 1 || f.Length == tokens.Length);
            }
            if (match) return true;
        }
        return false;
    }

    private static string Join(ICollection<string>? subjects) => subjects is null ? "(none)" : "[" + string.Join(", ", subjects) + "]";

    private static string Describe(TimeSpan age) => age == TimeSpan.Zero ? "unlimited" : $"{age.TotalSeconds:0.#} s";
}
