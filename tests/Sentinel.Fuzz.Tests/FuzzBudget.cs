using CsCheck;

namespace Sentinel.Fuzz.Tests;

/// <summary>
/// How long each target is fuzzed: SENTINEL_FUZZ_SECONDS (default 8 s per target, so the whole project stays
/// around a minute in CI; raise it for a long local run). One thread, since CI has two cores to share.
/// A failure prints the CsCheck seed that reproduces it: pass it back with SENTINEL_FUZZ_SEED.
/// </summary>
internal static class FuzzBudget
{
    public static int Seconds { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("SENTINEL_FUZZ_SECONDS"), out var s) && s > 0 ? s : 8;

    public static string? Seed => Environment.GetEnvironmentVariable("SENTINEL_FUZZ_SEED");

    public static void Run<T>(Gen<T> gen, Action<T> property, Func<T, string>? print = null) =>
        gen.Sample(property, seed: Seed, time: Seconds, threads: 1, print: print);

    public static Task RunAsync<T>(Gen<T> gen, Func<T, Task> property, Func<T, string>? print = null) =>
        gen.SampleAsync(property, seed: Seed, time: Seconds, threads: 1, print: print);
}

/// <summary>Byte- and text-level mutations of known-good inputs, the way a coverage-blind fuzzer explores near them.</summary>
internal static class Mutations
{
    private static readonly string[] Tokens =
    [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "null", "true", "false", "-1", "0", "1e400", "-9223372036854775809",
        "18446744073709551616", "4294967296", "2147483648", "\"\\u0000\"", "\"\\ud800\"", "NaN", "[[[[[[[[", "{\"a\":",
        "\"9999-12-31T23:59:59Z\"", "\"0001-01-01T00:00:00Z\"", "\"ATTACH_STRATEGY_KPROBE\"", "\"x\"", "1.5", "\n",
    ];

    /// <summary>A mutation of one of <paramref name="seeds"/>: up to 6 edits, or the seed as is.</summary>
    public static Gen<string> Of(IReadOnlyList<string> seeds) =>
        Gen.Select(Gen.Int[0, seeds.Count - 1], Gen.Int[0, 6], Gen.Int.Array[18], (which, edits, random) =>
        {
            var text = seeds[which];
            for (var i = 0; i < edits; i++)
            {
                var (a, b, c) = ((uint)random[3 * i], (uint)random[3 * i + 1], (uint)random[3 * i + 2]);
                var at = text.Length == 0 ? 0 : (int)(a % (uint)text.Length);
                var length = (int)(b % 12);
                text = (c % 5) switch
                {
                    0 => text.Remove(at, Math.Min(length, text.Length - at)),
                    1 => text.Insert(at, Tokens[c / 5 % (uint)Tokens.Length]),
                    2 => text.Insert(at, text.Substring(at, Math.Min(length * 8, text.Length - at))),
                    3 => text.Length == 0 ? text : text.Remove(at, 1).Insert(at, ((char)(b % 128)).ToString()),
                    _ => ReplaceNumber(text, at, c),
                };
            }
            return text;
        });

    private static string ReplaceNumber(string text, int at, uint c)
    {
        var start = text.IndexOfAny("0123456789".ToCharArray(), at);
        if (start < 0) return text;
        var end = start;
        while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
        string[] extremes = ["0", "-1", "2147483647", "2147483648", "-2147483649", "9223372036854775807",
            "18446744073709551615", "99999999999999999999999", "4294967295"];
        return string.Concat(text.AsSpan(0, start), extremes[c % (uint)extremes.Length], text.AsSpan(end));
    }
}
