using Google.Protobuf.WellKnownTypes;

namespace Sentinel.Contracts.Tests;

/// <summary>
/// The converters and the wire writer share ProtoTime, so comparing them cannot catch a mistake in it: it is
/// checked here against the library's own conversion, which the converters used before.
/// </summary>
public sealed class ProtoTimeTests
{
    [Fact]
    public void A_date_time_offset_gives_what_Timestamp_FromDateTimeOffset_gives()
    {
        var random = new Random(20261128);
        var times = new List<DateTimeOffset>
        {
            DateTimeOffset.MinValue, DateTimeOffset.MaxValue, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddTicks(-1),
            DateTimeOffset.UnixEpoch.AddTicks(1), new(2026, 11, 28, 10, 0, 0, TimeSpan.FromHours(-9.5)),
        };
        for (var i = 0; i < 1000; i++)
            times.Add(new DateTimeOffset(random.NextInt64(DateTimeOffset.MinValue.Ticks, DateTimeOffset.MaxValue.Ticks), TimeSpan.Zero));

        foreach (var time in times)
            Assert.Equal(Timestamp.FromDateTimeOffset(time), ProtoTime.FromDateTimeOffset(time).ToTimestamp());
    }

    [Fact]
    public void Unix_nanoseconds_split_into_seconds_and_nanoseconds_as_the_event_converter_always_split_them()
    {
        Assert.Equal(new ProtoTime(1_764_000_000, 123_456_789), ProtoTime.FromUnixNs(1_764_000_000_123_456_789));
        Assert.Equal(new ProtoTime(0, -1), ProtoTime.FromUnixNs(-1));
        Assert.Equal(new ProtoTime(long.MaxValue / 1_000_000_000, (int)(long.MaxValue % 1_000_000_000)), ProtoTime.FromUnixNs(long.MaxValue));
    }
}
