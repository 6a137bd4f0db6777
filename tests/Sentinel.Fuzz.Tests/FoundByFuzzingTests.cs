using System.Runtime.InteropServices;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Probes;

namespace Sentinel.Fuzz.Tests;

/// <summary>Inputs the fuzzers found that crashed a reader, kept as named regressions.</summary>
public sealed class FoundByFuzzingTests
{
    /// <summary>A time past 2262 overflowed the int64 nanoseconds and crashed the JSON writer afterwards.</summary>
    [Theory]
    [InlineData("2326-03-01T10:00:00Z")]
    [InlineData("7026-03-01T10:00:00Z")]
    [InlineData("1960-01-01T00:00:00Z")]
    public void An_event_time_outside_int64_nanoseconds_is_a_format_error(string time)
    {
        var line = $$"""{"name":"move_pages","time":"{{time}}","context":{"pid":1,"tid":1,"comm":"x"},"args":[]}""";
        var ex = Assert.ThrowsAny<FormatException>(() => EventJson.Parse(line, new MovePagesEvent()));
        Assert.Contains("time", ex.Message);
    }

    /// <summary>A record whose kernel clocks are far past any uptime wrapped the Unix time negative.</summary>
    [Theory]
    [InlineData(ulong.MaxValue, 1UL)]
    [InlineData(1UL << 62 | 1, 1UL)]
    [InlineData(1_000UL, ulong.MaxValue)]
    public void A_record_with_an_impossible_clock_is_corrupt(ulong exitNs, ulong foldLastNs)
    {
        var bytes = new byte[MovePagesDecoder.RecordSize];
        ref var raw = ref MemoryMarshal.AsRef<RawMovePagesEvent>(bytes.AsSpan());
        raw.Magic = ProbeHeader.RecordMagic;
        raw.Size = (uint)bytes.Length;
        raw.Call.EnterNs = 1;
        raw.ExitNs = exitNs;
        raw.FoldCount = 1;
        raw.FoldFirstNs = 1;
        raw.FoldLastNs = foldLastNs;
        Assert.Equal(DecodeResult.Corrupt, new MovePagesDecoder(AttachStrategy.Tracepoint).Decode(bytes, new MovePagesEvent()));
    }

    /// <summary>A fixture line with an empty key ("") was refused without naming where: the error named no field.</summary>
    [Fact]
    public void A_fixture_line_with_an_empty_key_names_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "sentinel-fuzz-" + Guid.NewGuid().ToString("N") + ".fixtures.jsonl");
        try
        {
            File.WriteAllText(path, """{"":"x","fires":true,"event":{"name":"move_pages"}}""" + "\n");
            var ex = Assert.Throws<Sentinel.Rules.Testing.FixtureFormatException>(() => Sentinel.Rules.Testing.FixtureRunner.CountCases(path));
            Assert.Equal(1, ex.Line);
            Assert.Equal("\"\"", ex.Field);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
