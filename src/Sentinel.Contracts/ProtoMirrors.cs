using Google.Protobuf.Collections;
using Sentinel.Events;

namespace Sentinel.Contracts;

/// <summary>
/// Binds a static partial class to a sentinel.v1 message and the Sentinel.Events type whose properties carry the
/// message's field names: Sentinel.Contracts.Generators writes its <c>Fill</c>, <c>Write</c> and <c>Read</c> (or
/// <c>Create</c>), and fails the build on a field of the message that has no same-named property and is not
/// listed in <see cref="ByHand"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
internal sealed class ProtoMirrorAttribute(Type message, Type source) : Attribute
{
    public Type Message { get; } = message;
    public Type Source { get; } = source;

    /// <summary>Fields (C# property names of the message) the converters handle themselves.</summary>
    public string[] ByHand { get; init; } = [];
}

/// <summary>The event's process context.</summary>
[ProtoMirror(typeof(V1.ProcessContext), typeof(MovePagesEvent))]
internal static partial class ContextMirror
{
    private static partial string Text(string value, string field) => WireText.Bounded(value, field);
}

/// <summary>A process of the enrichment: the caller, the target or an ancestor.</summary>
[ProtoMirror(typeof(V1.Process), typeof(ProcessInfo))]
internal static partial class ProcessMirror
{
    private static partial string Text(string value, string field) => WireText.Bounded(value, field);

    private static partial IReadOnlyList<string> Texts(RepeatedField<string> values, string field) => WireText.Bounded(values, field);
}

/// <summary>The enrichment's verdicts; its processes are messages, converted with <see cref="ProcessMirror"/>.</summary>
[ProtoMirror(typeof(V1.Enrichment), typeof(EventEnrichment), ByHand = [nameof(V1.Enrichment.Caller), nameof(V1.Enrichment.Target), nameof(V1.Enrichment.Ancestry)])]
internal static partial class EnrichmentMirror;

/// <summary>
/// What the kernel can produce: a task comm is at most 16 bytes, a path at most PATH_MAX. A longer value in an event
/// file was forged, and would otherwise reach the rules (and their budgets) as if it were real.
/// </summary>
internal static class WireText
{
    private const int MaxComm = 16, MaxPath = 4096, MaxArgs = 1024;

    public static string Bounded(string value, string field)
    {
        var max = field.EndsWith(".comm", StringComparison.Ordinal) ? MaxComm : MaxPath;
        return value.Length <= max ? value : throw new EventFormatException(field, $"at most {max} characters, got {value.Length}");
    }

    public static string[] Bounded(RepeatedField<string> values, string field)
    {
        if (values.Count > MaxArgs) throw new EventFormatException(field, $"at most {MaxArgs} arguments, got {values.Count}");
        var bounded = new string[values.Count];
        for (var i = 0; i < bounded.Length; i++) bounded[i] = Bounded(values[i], $"{field}[{i}]");
        return bounded;
    }
}
