using Google.Protobuf.WellKnownTypes;
using Sentinel.Events;
using static Sentinel.Events.EventCatalog;

namespace Sentinel.Contracts;

/// <summary>
/// Maps <see cref="MovePagesEvent"/> to and from <see cref="V1.Event"/>. The argument names, types and tags
/// come from <see cref="EventCatalog.MovePages"/>, the same definition the decoder and `events describe` use.
/// </summary>
public static class EventConverter
{
    /// <summary>Each argument's tags as the wire lists them, by argument index.</summary>
    internal static readonly string[][] TagNames =
        MovePages.Arguments.Select(a => a.Tags.Names().ToArray()).ToArray();

    /// <summary>
    /// The event's <see cref="V1.Event"/>, converted on the first call and the same instance on every later one
    /// (the broadcaster, the event outputs and the journal share it), until the event is reset for reuse. The
    /// event must not change after its first consumer saw it, and the result is shared: never modify it.
    /// </summary>
    public static V1.Event Shared(MovePagesEvent e)
    {
        if (e.Converted is V1.Event converted) return converted;
        var proto = ToProto(e);
        e.Converted = proto;
        return proto;
    }

    /// <summary>True once <see cref="Shared"/> converted the event: a later consumer gets that conversion for free.</summary>
    public static bool HasShared(MovePagesEvent e) => e.Converted is V1.Event;

    /// <summary>A detached conversion the caller owns (and may modify).</summary>
    public static V1.Event ToProto(MovePagesEvent e)
    {
        ConversionCounter.CountEvent();
        var proto = new V1.Event
        {
            Name = MovePages.Name,
            Time = ProtoTime.FromUnixNs(e.TimeUnixNs).ToTimestamp(),
            Context = new V1.ProcessContext(),
            Strategy = (V1.AttachStrategy)e.Strategy,
            Compat = e.Compat,
            ReturnValue = e.ReturnValue,
            Errno = ErrnoOf(e),
            DurationNs = DurationOf(e),
            Copies = new V1.ArrayCopies { Copied = (uint)e.CopiedCount },
            Toctou = new V1.ToctouEvidence { Changed = e.HasToctouEvidence },
        };
        ContextMirror.Fill(proto.Context, e);
        for (var i = 0; i < MovePages.Arguments.Count; i++)
            proto.Args.Add(ArgumentToProto(e, i));

        proto.Copies.PagesAtEntry.Add(e.PagesAtEntry.ToArray());
        proto.Copies.PagesAtExit.Add(e.PagesAtExit.ToArray());
        proto.Copies.NodesAtEntry.Add(e.NodesAtEntry.ToArray());
        proto.Copies.NodesAtExit.Add(e.NodesAtExit.ToArray());
        proto.Copies.Status.Add(e.Status.ToArray());
        Span<uint> indexes = stackalloc uint[32];
        proto.Toctou.PagesChanged.Add(indexes[..Indexes(e.PagesChangedMask, indexes)].ToArray());
        proto.Toctou.NodesChanged.Add(indexes[..Indexes(e.NodesChangedMask, indexes)].ToArray());

        if (e.IsFold)
        {
            proto.FoldCount = (ulong)e.FoldCount;
            proto.FoldFirst = ProtoTime.FromUnixNs(e.FoldFirstUnixNs).ToTimestamp();
            proto.FoldLast = ProtoTime.FromUnixNs(e.FoldLastUnixNs).ToTimestamp();
        }
        if (e.Enrichment.Enriched)
            proto.Enrichment = EnrichmentToProto(e.Enrichment);
        return proto;
    }

    /// <summary>The `errno` field: the errno's name for a failed call, else empty.</summary>
    internal static string ErrnoOf(MovePagesEvent e) => e.ErrnoName ?? "";

    /// <summary>The `duration_ns` field: a negative duration (clocks that disagree) is written as 0.</summary>
    internal static ulong DurationOf(MovePagesEvent e) => (ulong)Math.Max(0, e.DurationNs);

    private static long UnixNsOf(Timestamp time) => time.Seconds * 1_000_000_000 + time.Nanos;

    /// <summary>Events carry Unix nanoseconds in an int64: 1970 to 2262. Anything else is refused, never wrapped.</summary>
    private static long UnixNsOf(Timestamp time, string field)
    {
        if (time.Seconds < 0 || time.Seconds > long.MaxValue / 1_000_000_000 - 1 || time.Nanos is < 0 or >= 1_000_000_000)
            throw new EventFormatException(field, $"a time between 1970 and 2262, got {time}");
        return UnixNsOf(time);
    }

    private static V1.Argument ArgumentToProto(MovePagesEvent e, int index)
    {
        var def = MovePages.Arguments[index];
        var arg = new V1.Argument { Name = def.Name, Type = def.Type };
        arg.Tags.Add(TagNames[index]);
        var value = ArgumentValue(e, index);
        switch (ValueKind(index))
        {
            case V1.Argument.ValueOneofCase.IntValue: arg.IntValue = (long)value; break;
            case V1.Argument.ValueOneofCase.UintValue: arg.UintValue = value; break;
            case V1.Argument.ValueOneofCase.Pointer: arg.Pointer = value; break;
        }
        return arg;
    }

    /// <summary>Which member of the argument's `value` oneof carries argument <paramref name="index"/>.</summary>
    internal static V1.Argument.ValueOneofCase ValueKind(int index) => index switch
    {
        MovePagesArgs.Count => V1.Argument.ValueOneofCase.UintValue,
        MovePagesArgs.Pages or MovePagesArgs.Nodes or MovePagesArgs.Status => V1.Argument.ValueOneofCase.Pointer,
        _ => V1.Argument.ValueOneofCase.IntValue,
    };

    /// <summary>Argument <paramref name="index"/>'s value as a varint's bits (a signed one sign-extended, as int64 is).</summary>
    internal static ulong ArgumentValue(MovePagesEvent e, int index) => index switch
    {
        MovePagesArgs.Pid => (ulong)(long)e.TargetPid,
        MovePagesArgs.Count => e.Count,
        MovePagesArgs.Pages => e.PagesAddress,
        MovePagesArgs.Nodes => e.NodesAddress,
        MovePagesArgs.Status => e.StatusAddress,
        MovePagesArgs.Flags => (ulong)(long)e.Flags,
        MovePagesArgs.Return => (ulong)e.ReturnValue,
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    /// <summary>Writes the indexes of <paramref name="mask"/>'s set bits, lowest first; returns how many.</summary>
    internal static int Indexes(uint mask, Span<uint> indexes)
    {
        var count = 0;
        for (; mask != 0; mask &= mask - 1) indexes[count++] = (uint)System.Numerics.BitOperations.TrailingZeroCount(mask);
        return count;
    }

    public static V1.Process ProcessToProto(ProcessInfo p)
    {
        var proto = new V1.Process();
        ProcessMirror.Fill(proto, p);
        return proto;
    }

    private static V1.Enrichment EnrichmentToProto(EventEnrichment en)
    {
        var proto = new V1.Enrichment();
        if (en.Caller is { } caller) proto.Caller = ProcessToProto(caller);
        if (en.Target is { } target) proto.Target = ProcessToProto(target);
        proto.Ancestry.Add(en.Ancestry.Select(ProcessToProto));
        EnrichmentMirror.Fill(proto, en);
        return proto;
    }

    private const int MaxAncestry = 64;

    /// <summary>
    /// Fills <paramref name="target"/> from a (possibly hand-written or forged) proto event.
    /// Throws <see cref="EventFormatException"/> naming the offending field.
    /// </summary>
    public static void FromProto(V1.Event proto, MovePagesEvent target)
    {
        if (proto.Name != MovePages.Name)
            throw new EventFormatException("name", $"expected \"{MovePages.Name}\", got \"{proto.Name}\"");
        target.Reset();
        if (proto.Time is { } time) target.TimeUnixNs = UnixNsOf(time, "time");
        FoldFromProto(proto, target);
        target.DurationNs = (long)Math.Min(proto.DurationNs, long.MaxValue);
        if (proto.Context is { } context) ContextMirror.Read(context, target, "context");
        if (!System.Enum.IsDefined(proto.Strategy))
            throw new EventFormatException("strategy", $"unknown attach strategy {(int)proto.Strategy}");
        target.Strategy = (AttachStrategy)proto.Strategy;
        target.Compat = proto.Compat;

        var seen = new bool[MovePages.Arguments.Count];
        foreach (var arg in proto.Args)
        {
            var index = IndexOf(arg.Name);
            seen[index] = true;
            ArgumentFromProto(arg, index, target);
        }
        var missing = Array.IndexOf(seen, false);
        if (missing >= 0 && missing != MovePagesArgs.Return)
            throw new EventFormatException("args", $"missing argument \"{MovePages.Arguments[missing].Name}\"");
        if (!seen[MovePagesArgs.Return]) target.ReturnValue = proto.ReturnValue;
        else if (proto.ReturnValue != target.ReturnValue)
            throw new EventFormatException("returnValue", "disagrees with the \"return\" argument");

        CopiesFromProto(proto.Copies ?? new V1.ArrayCopies(), target);
        if (proto.Enrichment is { } en)
        {
            var e = target.Enrichment;
            e.Enriched = true;
            e.Caller = en.Caller is null ? null : ProcessMirror.Create(en.Caller, "enrichment.caller");
            e.Target = en.Target is null ? null : ProcessMirror.Create(en.Target, "enrichment.target");
            if (en.Ancestry.Count > MaxAncestry)
                throw new EventFormatException("enrichment.ancestry", $"at most {MaxAncestry} processes, got {en.Ancestry.Count}");
            e.AncestryBuffer.AddRange(en.Ancestry.Select((p, i) => ProcessMirror.Create(p, $"enrichment.ancestry[{i}]")));
            EnrichmentMirror.Read(en, e, "enrichment");
        }
    }

    private static void FoldFromProto(V1.Event proto, MovePagesEvent target)
    {
        if (proto.FoldCount > long.MaxValue)
            throw new EventFormatException("foldCount", $"at most {long.MaxValue}, got {proto.FoldCount}");
        target.FoldCount = Math.Max(1, (long)proto.FoldCount);
        target.FoldFirstUnixNs = proto.FoldFirst is { } first ? UnixNsOf(first, "foldFirst") : target.TimeUnixNs;
        target.FoldLastUnixNs = proto.FoldLast is { } last ? UnixNsOf(last, "foldLast") : target.TimeUnixNs;
        if (target.FoldLastUnixNs < target.FoldFirstUnixNs)
            throw new EventFormatException("foldLast", "is before foldFirst");
    }

    private static int IndexOf(string name)
    {
        for (var i = 0; i < MovePages.Arguments.Count; i++)
            if (MovePages.Arguments[i].Name == name) return i;
        throw new EventFormatException("args", $"unknown argument \"{name}\" (expected one of: " +
            string.Join(", ", MovePages.Arguments.Select(a => a.Name)) + ")");
    }

    private static void ArgumentFromProto(V1.Argument arg, int index, MovePagesEvent target)
    {
        var field = $"args[{arg.Name}]";
        var expected = ValueKind(index);
        if (arg.ValueCase != expected)
            throw new EventFormatException(field, $"expected a value of kind {expected}, got {arg.ValueCase}");
        var def = MovePages.Arguments[index];
        if (arg.Tags.Count > 0 && ArgTagsExtensions.Parse(arg.Tags) != def.Tags)
            throw new EventFormatException(field + ".tags", $"expected [{def.Tags.ToDisplay()}], got [{string.Join(", ", arg.Tags)}]");
        switch (index)
        {
            case MovePagesArgs.Pid: target.TargetPid = checked((int)arg.IntValue); break;
            case MovePagesArgs.Count: target.Count = arg.UintValue; break;
            case MovePagesArgs.Pages: target.PagesAddress = arg.Pointer; break;
            case MovePagesArgs.Nodes: target.NodesAddress = arg.Pointer; break;
            case MovePagesArgs.Status: target.StatusAddress = arg.Pointer; break;
            case MovePagesArgs.Flags: target.Flags = checked((int)arg.IntValue); break;
            case MovePagesArgs.Return: target.ReturnValue = arg.IntValue; break;
        }
    }

    private static void CopiesFromProto(V1.ArrayCopies copies, MovePagesEvent target)
    {
        if (copies.Copied > MovePagesEvent.MaxCopied)
            throw new EventFormatException("copies.copied", $"at most {MovePagesEvent.MaxCopied}, got {copies.Copied}");
        var n = (int)copies.Copied;
        target.CopiedCount = n;
        var flags = CopyFlags.None;
        flags |= Fill(copies.PagesAtEntry, target.PagesAtEntryBuffer, n, "copies.pagesAtEntry", CopyFlags.PagesAtEntry);
        flags |= Fill(copies.PagesAtExit, target.PagesAtExitBuffer, n, "copies.pagesAtExit", CopyFlags.PagesAtExit);
        flags |= Fill(copies.NodesAtEntry, target.NodesAtEntryBuffer, n, "copies.nodesAtEntry", CopyFlags.NodesAtEntry);
        flags |= Fill(copies.NodesAtExit, target.NodesAtExitBuffer, n, "copies.nodesAtExit", CopyFlags.NodesAtExit);
        flags |= Fill(copies.Status, target.StatusBuffer, n, "copies.status", CopyFlags.StatusAtExit);
        target.Copies = flags;
        // Evidence is recomputed from the copies, so a forged toctou block cannot disagree with them.
        target.ComputeToctou();
    }

    private static CopyFlags Fill<T>(IList<T> source, Span<T> buffer, int n, string field, CopyFlags flag)
    {
        if (source.Count == 0) return CopyFlags.None;
        if (source.Count != n)
            throw new EventFormatException(field, $"expected {n} entries (copies.copied), got {source.Count}");
        for (var i = 0; i < n; i++) buffer[i] = source[i];
        return flag;
    }
}

/// <summary>An event that does not fit the schema; <see cref="Field"/> names where.</summary>
public sealed class EventFormatException(string field, string message) : FormatException($"{field}: {message}")
{
    public string Field { get; } = field;
}
