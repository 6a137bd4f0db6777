namespace Sentinel.Events;

/// <summary>Adds context to an event in place (the process tree). Runs before detection.</summary>
public interface IEventEnricher
{
    void Enrich(MovePagesEvent evt);
}

/// <summary>Evaluates an event (the rule engine) and reports what fires. Must not keep the event it is given (it is pooled).</summary>
public interface IDetector
{
    void Evaluate(MovePagesEvent evt, IDetectionSink sink);

    /// <summary>
    /// Runs <paramref name="body"/>, which evaluates events on this thread, where the detector can stop an
    /// evaluation stuck inside one call. When it has to, it finishes the event that was being evaluated and calls
    /// <paramref name="body"/> again: the body must go on from the event after the last one it handed over.
    /// </summary>
    void RunGuarded(Action body) => body();
}

/// <summary>Receives detections in order, on the pipeline's thread.</summary>
public interface IDetectionSink
{
    void OnDetection(Detection detection);
}

/// <summary>Sees every event after enrichment (event files, StreamEvents). Must not keep the event it is given (it is pooled).</summary>
public interface IEventObserver
{
    void OnEvent(MovePagesEvent evt);
}

/// <summary>What the pipeline has done, for status: read from any thread, counted by the pipeline alone.</summary>
public sealed class PipelineCounters
{
    private long _events, _detections, _sinkErrors;
    public long Events => Interlocked.Read(ref _events);
    public long Detections => Interlocked.Read(ref _detections);
    public long SinkErrors => Interlocked.Read(ref _sinkErrors);
    internal void AddEvent() => Interlocked.Increment(ref _events);
    internal void AddDetection() => Interlocked.Increment(ref _detections);
    internal void AddSinkError() => Interlocked.Increment(ref _sinkErrors);
}
