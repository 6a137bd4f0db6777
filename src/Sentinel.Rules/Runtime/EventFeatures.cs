using System.Runtime.CompilerServices;
using Sentinel.Events;

namespace Sentinel.Rules.Runtime;

/// <summary>
/// A few facts about an event as bits, computed once per event: what rule prefilters test. A rule whose leading
/// guard (<c>if (e.IsSelf) return;</c>) is made of these facts is skipped on events where the guard holds, at the
/// cost of a mask and a compare instead of a call (see <see cref="RulePrefilter"/>).
/// </summary>
internal static class EventFeatures
{
    public const ulong Self = 1 << 0;
    public const ulong Compat = 1 << 1;
    public const ulong QueryMode = 1 << 2;
    public const ulong Toctou = 1 << 3;
    public const ulong Failed = 1 << 4;
    public const ulong Fold = 1 << 5;
    /// <summary><see cref="MoveFlags.Move"/> and <see cref="MoveFlags.MoveAll"/> (2 and 4) sit at bits 6 and 7.</summary>
    private const int FlagShift = 5;
    public const ulong FlagMove = (ulong)MoveFlags.Move << FlagShift;
    public const ulong FlagMoveAll = (ulong)MoveFlags.MoveAll << FlagShift;
    /// <summary>errno k (1 to <see cref="MaxErrno"/>) is bit <c>ErrnoShift + k</c>.</summary>
    private const int ErrnoShift = 7;
    public const int MaxErrno = 63 - ErrnoShift;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Errno(int errno) => errno is >= 1 and <= MaxErrno ? 1UL << (ErrnoShift + errno) : 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Of(MovePagesEvent e)
    {
        var bits = (e.IsSelf ? Self : 0) | (e.Compat ? Compat : 0) | (e.IsQueryMode ? QueryMode : 0)
                   | (e.HasToctouEvidence ? Toctou : 0) | (e.IsFold ? Fold : 0)
                   | ((ulong)(uint)e.Flags & (ulong)(MoveFlags.Move | MoveFlags.MoveAll)) << FlagShift;
        return e.Failed ? bits | Failed | Errno(e.Errno) : bits;
    }
}

/// <summary>
/// When a rule can be skipped: up to two terms, each true when <c>(features &amp; Mask) == Value</c>. A term holds only
/// where the rule's leading guard certainly returns, so skipping it changes nothing the rule would have done.
/// </summary>
internal readonly record struct RulePrefilter(ulong Mask0, ulong Value0, ulong Mask1, ulong Value1)
{
    /// <summary>Never skips (a term with an empty mask and a non-zero value never holds).</summary>
    public static readonly RulePrefilter None = new(0, 1, 0, 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Skips(ulong features) => (features & Mask0) == Value0 || (features & Mask1) == Value1;

    /// <summary>The manifest's form: <c>mask:value</c> pairs in hex, comma-separated (more than two: the first two).</summary>
    public static RulePrefilter Parse(string? text)
    {
        var terms = (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(t => t.Split(':'))
            .Select(p => (Mask: Convert.ToUInt64(p[0], 16), Value: Convert.ToUInt64(p[1], 16)))
            .ToArray();
        return terms.Length switch
        {
            0 => None,
            1 => None with { Mask0 = terms[0].Mask, Value0 = terms[0].Value },
            _ => new RulePrefilter(terms[0].Mask, terms[0].Value, terms[1].Mask, terms[1].Value),
        };
    }

    public static string Format(IEnumerable<(ulong Mask, ulong Value)> terms) =>
        string.Join(",", terms.Select(t => $"{t.Mask:x}:{t.Value:x}"));
}
