namespace Sentinel.ProcessTree;

/// <summary>
/// Shares equal strings (comm, exe paths, cgroup paths) between the tree's snapshots: 10k processes of the
/// same program hold one copy. Bounded: it starts over when full. Not thread-safe; the tree holds its lock.
/// </summary>
internal sealed class StringPool(int capacity = 4096)
{
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);

    public string Get(ReadOnlySpan<char> chars)
    {
        if (chars.IsEmpty) return "";
        var lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(chars, out var existing)) return existing;
        if (_strings.Count >= capacity) _strings.Clear();
        var s = chars.ToString();
        _strings[s] = s;
        return s;
    }

    /// <summary>Decodes UTF-8 (comm and paths are bytes to the kernel) and pools the result.</summary>
    public string GetUtf8(ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty) return "";
        Span<char> chars = stackalloc char[Math.Min(utf8.Length, 1024)];
        var n = System.Text.Encoding.UTF8.GetChars(utf8[..Math.Min(utf8.Length, chars.Length)], chars);
        return Get(chars[..n]);
    }
}
