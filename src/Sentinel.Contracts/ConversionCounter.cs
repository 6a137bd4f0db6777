namespace Sentinel.Contracts;

/// <summary>
/// A test seam: counts the conversions to the wire contract made in the current async flow (and the tasks it
/// starts), so a test sees its own conversions and none of the tests running beside it. Nothing is counted
/// unless a test is tracking.
/// </summary>
internal static class ConversionCounter
{
    private static readonly AsyncLocal<Counts?> Current = new();

    internal sealed class Counts
    {
        private int _events, _detections;
        public int Events => Volatile.Read(ref _events);
        public int Detections => Volatile.Read(ref _detections);
        internal void AddEvent() => Interlocked.Increment(ref _events);
        internal void AddDetection() => Interlocked.Increment(ref _detections);
    }

    /// <summary>Starts counting for the calling flow; code it starts afterwards (tasks, threads) counts into the same.</summary>
    public static Counts Track() => Current.Value = new Counts();

    internal static void CountEvent() => Current.Value?.AddEvent();
    internal static void CountDetection() => Current.Value?.AddDetection();
}
