using Sentinel.Events;

namespace Sentinel.Contracts;

/// <summary>
/// A detection sink that works on the sentinel.v1.Detection (the JSON printer). A producer that already converted
/// the detection (the journal) hands that over, so it is not converted again; the plain
/// <see cref="IDetectionSink.OnDetection"/> is for producers that have only the <see cref="Detection"/>.
/// </summary>
public interface IProtoDetectionSink : IDetectionSink
{
    /// <summary>The detection as committed; <paramref name="detection"/> is the sink's until it returns, not to keep or modify.</summary>
    void OnDetection(V1.Detection detection);
}
