using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Rules.Compilation;

namespace Sentinel.Rules.Testing;

/// <summary>
/// Parsed fixture files in the rule cache, keyed by the hash of the file and of the code that parses it: the
/// events as sentinel.v1.Event binary, which generated code reads without the JSON parser's schema reflection.
/// Only files without a bad line are written; anything unreadable is a miss.
/// </summary>
internal static class FixtureCache
{
    public sealed record Step(string Case, int Line, bool Fires, MovePagesEvent Event);

    private const string Extension = ".fixtures";
    private const int FormatVersion = 1;

    // The defaults and the parser live in these assemblies: a rebuild of any of them invalidates every entry.
    private static readonly string Fingerprint = string.Join("|",
        typeof(FixtureCache).Assembly.ManifestModule.ModuleVersionId,
        typeof(EventJson).Assembly.ManifestModule.ModuleVersionId,
        typeof(MovePagesEvent).Assembly.ManifestModule.ModuleVersionId,
        typeof(IMessage).Assembly.GetName().Version);

    public static string Key(string fixtureText) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"fixtures v{FormatVersion}\n{Fingerprint}\n{fixtureText}")));

    public static List<Step>? Read(RuleCache cache, string key)
    {
        if (cache.TryRead(key, Extension) is not { } bytes) return null;
        try
        {
            using var reader = new BinaryReader(new MemoryStream(bytes), Encoding.UTF8);
            if (reader.ReadInt32() != FormatVersion) return null;
            var steps = new List<Step>(reader.ReadInt32());
            for (var i = steps.Capacity; i > 0; i--)
            {
                var name = reader.ReadString();
                var line = reader.ReadInt32();
                var fires = reader.ReadBoolean();
                var evt = new MovePagesEvent();
                EventConverter.FromProto(V1.Event.Parser.ParseFrom(reader.ReadBytes(reader.ReadInt32())), evt);
                steps.Add(new Step(name, line, fires, evt));
            }
            return reader.BaseStream.Position == bytes.Length ? steps : null;
        }
        catch (Exception ex) when (ex is EndOfStreamException or InvalidProtocolBufferException or FormatException
                                       or ArgumentException or IOException)
        {
            return null;
        }
    }

    public static void Write(RuleCache cache, string key, IReadOnlyList<Step> steps)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(FormatVersion);
            writer.Write(steps.Count);
            foreach (var step in steps)
            {
                var proto = EventConverter.ToProto(step.Event);
                var bytes = proto.ToByteArray();
                // Cache only what reads back to the same event; otherwise the JSON stays the only source.
                var back = new MovePagesEvent();
                EventConverter.FromProto(V1.Event.Parser.ParseFrom(bytes), back);
                if (!EventConverter.ToProto(back).Equals(proto)) return;
                writer.Write(step.Case);
                writer.Write(step.Line);
                writer.Write(step.Fires);
                writer.Write(bytes.Length);
                writer.Write(bytes);
            }
        }
        cache.Write(key, Extension, stream.ToArray());
    }
}
