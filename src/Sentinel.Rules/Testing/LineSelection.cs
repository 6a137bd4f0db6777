using System.Globalization;

namespace Sentinel.Rules.Testing;

/// <summary>
/// Line numbers of a file as <c>rules fixture add --line</c> takes them: <c>N</c>, a range <c>N-M</c>, or a
/// comma-separated list of both, e.g. <c>3-7,9</c>. Lines are 1-based; a range runs from its lower end up.
/// </summary>
public sealed class LineSelection
{
    private readonly List<(int From, int To)> _ranges;

    private LineSelection(List<(int From, int To)> ranges) => _ranges = ranges;

    public IReadOnlyList<(int From, int To)> Ranges => _ranges;

    /// <summary>The highest line selected.</summary>
    public int Last => _ranges.Max(r => r.To);

    public bool Contains(int line) => _ranges.Exists(r => line >= r.From && line <= r.To);

    /// <summary>The selected lines in ascending order, each once.</summary>
    public IEnumerable<int> Lines => _ranges.SelectMany(r => Enumerable.Range(r.From, r.To - r.From + 1)).Distinct().Order();

    /// <summary>Parses a selection; a <see cref="FormatException"/> says in one line what is wrong and where.</summary>
    public static LineSelection Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException("expected line numbers such as 3, 3-7 or 3-7,9; got nothing");
        var ranges = new List<(int, int)>();
        foreach (var raw in text.Split(','))
        {
            var part = raw.Trim();
            if (part.Length == 0) throw new FormatException($"empty item in \"{text}\" (expected line numbers such as 3, 3-7 or 3-7,9)");
            var dash = part.IndexOf('-', 1); // a leading '-' is a sign, reported as a number below 1
            var (from, to) = dash < 0
                ? (Number(part, text), Number(part, text))
                : (Number(part[..dash].Trim(), text), Number(part[(dash + 1)..].Trim(), text));
            if (to < from) throw new FormatException($"range \"{part}\" runs backwards (write {to}-{from})");
            ranges.Add((from, to));
        }
        return new LineSelection(ranges);
    }

    private static int Number(string item, string text)
    {
        if (!int.TryParse(item, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
            throw new FormatException($"\"{item}\" is not a line number (in \"{text}\"; expected line numbers such as 3, 3-7 or 3-7,9)");
        if (n < 1) throw new FormatException($"line {n}: line numbers start at 1 (in \"{text}\")");
        return n;
    }
}
