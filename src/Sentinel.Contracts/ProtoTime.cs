using Google.Protobuf.WellKnownTypes;

namespace Sentinel.Contracts;

/// <summary>
/// A google.protobuf.Timestamp's two fields, computed in one place for the converters (which build a
/// <see cref="Timestamp"/>) and <see cref="DetectionWireWriter"/> (which writes the fields), so both give the same bytes.
/// </summary>
internal readonly record struct ProtoTime(long Seconds, int Nanos)
{
    private const long UnixEpochSeconds = 62_135_596_800; // DateTime.UnixEpoch.Ticks / TimeSpan.TicksPerSecond

    /// <summary>From the nanoseconds, not DateTimeOffset, whose 100 ns ticks would drop the kernel's precision.</summary>
    public static ProtoTime FromUnixNs(long unixNs) => new(Math.DivRem(unixNs, 1_000_000_000, out var nanos), (int)nanos);

    /// <summary>As <see cref="Timestamp.FromDateTimeOffset"/>: whole seconds, and the ticks left over as nanoseconds.</summary>
    public static ProtoTime FromDateTimeOffset(DateTimeOffset time)
    {
        // UtcTicks counts from year 1 and is never negative, so the division rounds down, before the epoch too.
        var seconds = Math.DivRem(time.UtcTicks, TimeSpan.TicksPerSecond, out var ticks);
        return new(seconds - UnixEpochSeconds, (int)ticks * (int)(1_000_000_000 / TimeSpan.TicksPerSecond));
    }

    public Timestamp ToTimestamp() => new() { Seconds = Seconds, Nanos = Nanos };
}
