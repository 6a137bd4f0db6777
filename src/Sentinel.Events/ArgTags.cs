namespace Sentinel.Events;

/// <summary>Where an argument's value came from (Tracee's tag set).</summary>
[Flags]
public enum ArgTags : byte
{
    None = 0,
    /// <summary>Kernel-held: a register at entry or a kernel result.</summary>
    K = 1,
    /// <summary>Read from user memory through a pointer.</summary>
    U = 2,
    /// <summary>User memory the kernel reads after the probe did: it may differ from what the kernel used.</summary>
    TOCTOU = 4,
    /// <summary>May be NULL.</summary>
    OPT = 8,
}

public static class ArgTagsExtensions
{
    private static readonly ArgTags[] Order = [ArgTags.K, ArgTags.U, ArgTags.TOCTOU, ArgTags.OPT];

    public static IReadOnlyList<string> Names(this ArgTags tags) =>
        Order.Where(t => tags.HasFlag(t)).Select(t => t.ToString()).ToArray();

    public static string ToDisplay(this ArgTags tags) => string.Join(", ", tags.Names());

    public static ArgTags Parse(IEnumerable<string> names)
    {
        var tags = ArgTags.None;
        foreach (var name in names)
        {
            if (!Enum.TryParse<ArgTags>(name, ignoreCase: false, out var tag) || tag == ArgTags.None)
                throw new FormatException($"unknown argument tag '{name}' (expected K, U, TOCTOU or OPT)");
            tags |= tag;
        }
        return tags;
    }
}
