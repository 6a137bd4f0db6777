namespace Sentinel.Contracts;

/// <summary>
/// A test seam: counts the conversions to the wire contract made in the current async flow (and the tasks it
/// starts), so a test sees its own conversions and none of the tests running beside it. Nothing is counted
/// unless a test is tracking.
/// </summary>
internal static class ConversionCounter
{
    private static readonly AsyncLocal<Counts?> Current = new();

    /// <summary>Read once the counted work is done (awaited): the counts are only ever incremented.</summary>
    internal sealed class Counts
    {
        public int Events;
        public int Detections;
        /// <summary>Detections serialized by <see cref="DetectionWireWriter"/>, events included, without a V1 object.</summary>
        public int Written;
    }

    /// <summary>Starts counting for the calling flow; code it starts afterwards (tasks, threads) counts into the same.</summary>
    public static Counts Track() => Current.Value = new Counts();

    internal static void CountEvent()
    {
        if (Current.Value is { } counts) Interlocked.Increment(ref counts.Events);
    }

    internal static void CountDetection()
    {
        if (Current.Value is { } counts) Interlocked.Increment(ref counts.Detections);
    }

    internal static void CountWritten()
    {
        if (Current.Value is { } counts) Interlocked.Increment(ref counts.Written);
    }
}
