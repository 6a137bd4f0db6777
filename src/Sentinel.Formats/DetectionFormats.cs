using Sentinel.Contracts;
using Sentinel.Events;

namespace Sentinel.Formats;

/// <summary>Turns a detection into one line (or block) of text for a terminal, a file or a SIEM.</summary>
public interface IDetectionFormatter
{
    string Name { get; }
    string Format(Detection detection);
}

public static class DetectionFormats
{
    private static readonly Dictionary<string, IDetectionFormatter> ByName =
        new IDetectionFormatter[]
        {
            new JsonDetectionFormatter(), new PrettyDetectionFormatter(),
            new OcsfDetectionFormatter(), new EcsDetectionFormatter(), new CefDetectionFormatter(),
        }
            .ToDictionary(f => f.Name, StringComparer.Ordinal);

    public static IReadOnlyCollection<string> Names => ByName.Keys;

    /// <summary>The format for a console: as <see cref="Get"/>, with pretty coloured when stdout is a terminal.</summary>
    public static IDetectionFormatter ForConsole(string name) =>
        name == "pretty" ? PrettyDetectionFormatter.ForConsole() : Get(name);

    public static IDetectionFormatter Get(string name) =>
        ByName.TryGetValue(name, out var formatter)
            ? formatter
            : throw new ArgumentException($"unknown format '{name}' (expected one of: {string.Join(", ", Names)})");
}

/// <summary>One sentinel.v1.Detection a line, in the protobuf JSON mapping.</summary>
public sealed class JsonDetectionFormatter : IDetectionFormatter
{
    public string Name => "json";
    public string Format(Detection detection) => EventJson.Format(DetectionConverter.ToProto(detection));
}
