using System.Text;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Formats;

namespace Sentinel.Cli.Agent;

/// <summary>Writes every event as JSON Lines (sentinel.v1.Event, protobuf JSON mapping) to a file or stdout.</summary>
internal sealed class JsonLinesEventWriter : IEventObserver, IDisposable
{
    private readonly TextWriter _writer;
    private readonly bool _ownsWriter;
    private readonly Timer _flushTimer;
    private readonly Lock _gate = new();

    public JsonLinesEventWriter(string path)
    {
        if (path == "-")
        {
            _writer = Console.Out;
        }
        else
        {
            try
            {
                var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
                _writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16);
                _ownsWriter = true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot write events to {path}: {ex.Message}");
            }
        }
        // Bounded staleness on disk without a flush per event.
        _flushTimer = new Timer(_ => Flush(), null, 200, 200);
    }

    public long Written { get; private set; }

    public void OnEvent(MovePagesEvent evt)
    {
        var line = EventJson.Format(EventConverter.Shared(evt)); // the broadcaster's conversion, if it made one
        lock (_gate)
        {
            _writer.WriteLine(line);
            Written++;
        }
    }

    private void Flush()
    {
        lock (_gate) _writer.Flush();
    }

    public void Dispose()
    {
        _flushTimer.Dispose();
        Flush();
        if (_ownsWriter) _writer.Dispose();
    }
}

/// <summary>Prints each event as one readable line.</summary>
internal sealed class PrettyEventPrinter : IEventObserver
{
    public void OnEvent(MovePagesEvent evt) => Console.Out.WriteLine(Format(evt));

    public static string Format(MovePagesEvent e)
    {
        var sb = new StringBuilder();
        sb.Append($"{e.Time:HH:mm:ss.ffffff} move_pages {e.Comm}[{e.Pid}/{e.Tid}] uid={e.Uid}");
        if (e.Compat) sb.Append(" compat");
        sb.Append($" pid={e.TargetPid} count={e.Count} flags={e.Flags}");
        sb.Append(e.IsQueryMode ? " nodes=NULL" : $" nodes=[{string.Join(',', e.NodesAtEntry.ToArray())}]");
        sb.Append($" status=[{string.Join(',', e.Status.ToArray())}]");
        sb.Append($" ret={e.ReturnValue}");
        if (e.ErrnoName is { } errno) sb.Append($" ({errno})");
        if (e.HasToctouEvidence) sb.Append($" TOCTOU pages=0x{e.PagesChangedMask:x} nodes=0x{e.NodesChangedMask:x}");
        return sb.ToString();
    }
}

/// <summary>Prints detections to stdout in the chosen format (pretty in colour on a terminal).</summary>
internal sealed class ConsoleDetectionSink(IDetectionFormatter formatter) : IDetectionSink
{
    private readonly IDetectionFormatter _formatter = DetectionFormats.ForConsole(formatter.Name);

    /// <summary>The printer for <paramref name="formatter"/>; JSON's prints the journal's conversion when it has one.</summary>
    public static IDetectionSink For(IDetectionFormatter formatter) =>
        formatter is JsonDetectionFormatter ? new JsonConsoleDetectionSink() : new ConsoleDetectionSink(formatter);

    public void OnDetection(Detection detection) => Console.Out.WriteLine(_formatter.Format(detection));
}

/// <summary>
/// `run --format json`: prints the sentinel.v1.Detection the journal converted rather than converting it again; without
/// a journal (--no-server), converts it here, with the event's conversion an event output may already have made.
/// </summary>
internal sealed class JsonConsoleDetectionSink(TextWriter? output = null) : IProtoDetectionSink
{
    public void OnDetection(Detection detection) => OnDetection(DetectionConverter.ToProtoSharingEvent(detection));

    public void OnDetection(V1.Detection detection) => (output ?? Console.Out).WriteLine(EventJson.Format(detection));
}
