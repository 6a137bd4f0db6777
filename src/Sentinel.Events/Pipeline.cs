namespace Sentinel.Events;

/// <summary>Adds context to an event in place (the process tree). Runs before detection.</summary>
public interface IEventEnricher
{
    void Enrich(MovePagesEvent evt);
}

/// <summary>Evaluates an event (the rule engine) and reports what fires. Must not keep <paramref name="evt"/>.</summary>
public interface IDetector
{
    void Evaluate(MovePagesEvent evt, IDetectionSink sink);
}

/// <summary>Receives detections in order, on the pipeline's thread.</summary>
public interface IDetectionSink
{
    void OnDetection(Detection detection);
}

/// <summary>Sees every event after enrichment (event files, StreamEvents). Must not keep <paramref name="evt"/>.</summary>
public interface IEventObserver
{
    void OnEvent(MovePagesEvent evt);
}
