using System.Collections;
using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Sentinel.Events;

namespace Sentinel.Contracts.Tests;

/// <summary>
/// Every field of an event reaches every copy and every wire form of it. The fields are found by reflection (each
/// public settable property of <see cref="MovePagesEvent"/>, of its <see cref="EventEnrichment"/> and of the
/// <see cref="ProcessInfo"/>s in it), so a field added later is checked without a line here: one that Reset,
/// CopyTo, EventConverter, DetectionWireWriter or EventJson forgets fails a case named after it. A field a path
/// leaves out on purpose is listed in <see cref="NotOnTheWire"/> with the reason.
/// </summary>
public sealed class EveryFieldTests
{
    /// <summary>Fields sentinel.v1 does not carry, by declaring type and name, and why.</summary>
    private static readonly Dictionary<string, string> NotOnTheWire = new()
    {
        ["ProcessInfo.ParentStartTimeNs"] = "sentinel.v1.Process has no field for it: the tree keys the parent with it; a consumer gets the parent in the ancestry",
        ["ProcessInfo.Exited"] = "sentinel.v1.Process has no field for it: process-tree bookkeeping (whether the process is gone), not a fact of the call",
    };

    /// <summary>
    /// Byref-like properties, which reflection cannot read: each is compared through its view here. A new one fails
    /// every case until it is added. The buffers are storage for decoders: what they publish is compared through
    /// the views (the wire carries the first <c>CopiedCount</c> entries, not the stale rest).
    /// </summary>
    private static readonly Dictionary<string, Func<MovePagesEvent, Array>?> SpanViews = new()
    {
        [nameof(MovePagesEvent.PagesAtEntry)] = e => e.PagesAtEntry.ToArray(),
        [nameof(MovePagesEvent.PagesAtExit)] = e => e.PagesAtExit.ToArray(),
        [nameof(MovePagesEvent.NodesAtEntry)] = e => e.NodesAtEntry.ToArray(),
        [nameof(MovePagesEvent.NodesAtExit)] = e => e.NodesAtExit.ToArray(),
        [nameof(MovePagesEvent.Status)] = e => e.Status.ToArray(),
        [nameof(MovePagesEvent.PagesAtEntryBuffer)] = null,
        [nameof(MovePagesEvent.PagesAtExitBuffer)] = null,
        [nameof(MovePagesEvent.NodesAtEntryBuffer)] = null,
        [nameof(MovePagesEvent.NodesAtExitBuffer)] = null,
        [nameof(MovePagesEvent.StatusBuffer)] = null,
    };

    // The arrays the test fills: the exit copies are the entry copies changed where the TOCTOU masks say, so the
    // masks (which FromProto recomputes from the copies) agree with them whatever the case varies.
    private const string PagesArray = nameof(MovePagesEvent.PagesAtEntry), NodesArray = nameof(MovePagesEvent.NodesAtEntry),
        StatusArray = nameof(MovePagesEvent.Status);

    private const string EnrichmentPrefix = nameof(MovePagesEvent.Enrichment) + ".";
    private static readonly string[] Processes =
        [$"{EnrichmentPrefix}{nameof(EventEnrichment.Caller)}", $"{EnrichmentPrefix}{nameof(EventEnrichment.Target)}",
         $"{EnrichmentPrefix}{nameof(EventEnrichment.Ancestry)}[0]", $"{EnrichmentPrefix}{nameof(EventEnrichment.Ancestry)}[1]"];

    private const long Epoch2026 = 1_764_000_000_000_000_000;

    /// <summary>
    /// Values that must keep the event valid, or keep another field on the wire, for each of the two seeds.
    /// Everything else gets a value from its type, distinct per field and per seed.
    /// </summary>
    private static readonly Dictionary<string, Func<int, object>> Constrained = new()
    {
        // Events carry times from 1970 to 2262; a fold's first time is not after its last.
        [nameof(MovePagesEvent.TimeUnixNs)] = s => Epoch2026 + s * 1_000_003L,
        [nameof(MovePagesEvent.FoldFirstUnixNs)] = s => Epoch2026 - s * 7L,
        [nameof(MovePagesEvent.FoldLastUnixNs)] = s => Epoch2026 + 100_000_000 + s * 7L,
        // The fold's times are on the wire only for a fold (FoldCount > 1).
        [nameof(MovePagesEvent.FoldCount)] = s => s == 1 ? 5L : 9L,
        [nameof(MovePagesEvent.ReturnValue)] = s => -11L * s,
        [nameof(MovePagesEvent.CopiedCount)] = s => s == 1 ? 6 : 11,
        // The masks need both reads of each array; Status can go.
        [nameof(MovePagesEvent.Copies)] = s => s == 1 ? AllCopies : AllCopies & ~CopyFlags.StatusAtExit,
        [nameof(MovePagesEvent.PagesChangedMask)] = s => s == 1 ? 0b100101u : 0b010010u,
        [nameof(MovePagesEvent.NodesChangedMask)] = s => s == 1 ? 0b000011u : 0b101000u,
        // Without it nothing of the enrichment is sent: it stays true, and Reset is what checks it goes back.
        [EnrichmentPrefix + nameof(EventEnrichment.Enriched)] = _ => true,
    };

    private const CopyFlags AllCopies = CopyFlags.PagesAtEntry | CopyFlags.PagesAtExit | CopyFlags.NodesAtEntry |
        CopyFlags.NodesAtExit | CopyFlags.StatusAtExit;

    private static IEnumerable<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true });

    /// <summary>Every field a case can vary, by its path in the event.</summary>
    private static readonly string[] Leaves =
    [
        .. Settable(typeof(MovePagesEvent)).Select(p => p.Name),
        PagesArray, NodesArray, StatusArray,
        .. Settable(typeof(EventEnrichment)).Where(p => p.PropertyType != typeof(ProcessInfo)).Select(p => EnrichmentPrefix + p.Name),
        .. Processes.SelectMany(process => Settable(typeof(ProcessInfo)).Select(p => $"{process}.{p.Name}")),
    ];

    public static TheoryData<string> Fields => new(Leaves.Where(l => !Constrained.TryGetValue(l, out var f) || !Equals(f(1), f(2))));

    /// <summary>A value for <paramref name="leaf"/> that no other field has, and that differs between seeds 1 and 2.</summary>
    private static object ValueOf(string leaf, Type type, int seed)
    {
        if (Constrained.TryGetValue(leaf, out var constrained)) return constrained(seed);
        var k = Array.IndexOf(Leaves, leaf) + 1;
        return type switch
        {
            _ when type == typeof(int) => 1_000 * seed + k,
            _ when type == typeof(uint) => (uint)(200_000 * seed + k),
            _ when type == typeof(long) => 30_000_000L * seed + k,
            _ when type == typeof(ulong) => (1UL << 40) * (ulong)seed + (ulong)k,
            _ when type == typeof(bool) => seed == 1,
            // A comm is at most 16 characters (a longer one is rejected as forged): the leaf's index keeps it unique.
            _ when type == typeof(string) && leaf.EndsWith(nameof(MovePagesEvent.Comm), StringComparison.Ordinal) => $"comm{k}#{seed}",
            _ when type == typeof(string) => $"{leaf}#{seed}",
            _ when type == typeof(IReadOnlyList<string>) => Enumerable.Range(0, seed + 1).Select(i => $"{leaf}#{seed}/{i}").ToArray(),
            _ when type.IsEnum => Enum.GetValues(type).Cast<object>().Where(v => Convert.ToInt64(v) != 0).ElementAt(seed - 1),
            _ => throw new NotSupportedException($"{leaf}: no test value for {type}; give one in {nameof(Constrained)}"),
        };
    }

    private static object ArrayOf(string leaf, int seed) => leaf switch
    {
        PagesArray => Enumerable.Range(0, MovePagesEvent.MaxCopied).Select(i => 0x7f00_0000_0000UL + (ulong)(seed * 0x100_000 + i * 4096)).ToArray(),
        NodesArray => Enumerable.Range(0, MovePagesEvent.MaxCopied).Select(i => seed * 100 + i).ToArray(),
        _ => Enumerable.Range(0, MovePagesEvent.MaxCopied).Select(i => -(seed * 20 + i)).ToArray(),
    };

    /// <summary>The event with every field at its seed-1 value, except <paramref name="varied"/> at its seed-2 one.</summary>
    private static MovePagesEvent Build(string? varied = null)
    {
        object Value(string leaf, Type type) => ValueOf(leaf, type, leaf == varied ? 2 : 1);
        object Array(string leaf) => ArrayOf(leaf, leaf == varied ? 2 : 1);
        ProcessInfo Process(string prefix)
        {
            var p = new ProcessInfo { Pid = 0, StartTimeNs = 0 };
            foreach (var property in Settable(typeof(ProcessInfo)))
                property.SetValue(p, Value($"{prefix}.{property.Name}", property.PropertyType));
            return p;
        }

        var e = new MovePagesEvent();
        foreach (var property in Settable(typeof(MovePagesEvent)))
            property.SetValue(e, Value(property.Name, property.PropertyType));
        var pages = (ulong[])Array(PagesArray);
        var nodes = (int[])Array(NodesArray);
        for (var i = 0; i < MovePagesEvent.MaxCopied; i++)
        {
            e.PagesAtEntryBuffer[i] = pages[i];
            e.PagesAtExitBuffer[i] = pages[i] + ((e.PagesChangedMask >> i & 1) == 1 ? 0x1000UL : 0);
            e.NodesAtEntryBuffer[i] = nodes[i];
            e.NodesAtExitBuffer[i] = nodes[i] + (int)(e.NodesChangedMask >> i & 1);
        }
        ((int[])Array(StatusArray)).CopyTo(e.StatusBuffer);

        var en = e.Enrichment;
        foreach (var property in Settable(typeof(EventEnrichment)))
            property.SetValue(en, property.PropertyType == typeof(ProcessInfo)
                ? Process(EnrichmentPrefix + property.Name)
                : Value(EnrichmentPrefix + property.Name, property.PropertyType));
        en.AncestryBuffer.AddRange(Processes.Where(p => p.Contains('[')).Select(Process));

        // The test's own consistency: the masks it set are the ones the copies give.
        var (pagesMask, nodesMask) = (e.PagesChangedMask, e.NodesChangedMask);
        e.ComputeToctou();
        Assert.Equal((pagesMask, nodesMask), (e.PagesChangedMask, e.NodesChangedMask));
        return e;
    }

    /// <summary>Every public property (the derived ones too) that differs, as "path: expected …, got …".</summary>
    private static List<string> Differences(object? expected, object? actual, bool wire)
    {
        var differences = new List<string>();
        Compare(expected, actual, "", wire, differences);
        return differences;
    }

    private static void Compare(object? expected, object? actual, string path, bool wire, List<string> differences)
    {
        if (expected is null || actual is null || expected is string || expected.GetType().IsPrimitive || expected.GetType().IsEnum ||
            expected is DateTimeOffset)
        {
            if (!Equals(expected, actual)) differences.Add($"{path}: expected {Show(expected)}, got {Show(actual)}");
            return;
        }
        if (expected is IEnumerable sequence)
        {
            var (e, a) = (sequence.Cast<object?>().ToList(), ((IEnumerable)actual).Cast<object?>().ToList());
            if (e.Count != a.Count) differences.Add($"{path}: expected {e.Count} entries, got {a.Count}");
            for (var i = 0; i < Math.Min(e.Count, a.Count); i++) Compare(e[i], a[i], $"{path}[{i}]", wire, differences);
            return;
        }
        foreach (var property in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var at = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
            if (wire && NotOnTheWire.ContainsKey($"{property.DeclaringType!.Name}.{property.Name}")) continue;
            if (property.PropertyType.IsByRefLike)
            {
                if (!SpanViews.TryGetValue(property.Name, out var view) || expected is not MovePagesEvent)
                    differences.Add($"{at}: a span the test cannot read; add it to {nameof(SpanViews)}");
                else if (view is not null)
                    Compare(view((MovePagesEvent)expected), view((MovePagesEvent)actual), at, wire, differences);
                continue;
            }
            if (property.Name == nameof(EventEnrichment.AncestryBuffer)) continue; // the list Ancestry shows
            Compare(property.GetValue(expected), property.GetValue(actual), at, wire, differences);
        }
    }

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => value.ToString()!,
    };

    private static void AssertSame(MovePagesEvent expected, MovePagesEvent actual, string path, bool wire = false)
    {
        var differences = Differences(expected, actual, wire);
        Assert.True(differences.Count == 0, $"{path} lost or changed {differences.Count} field(s):\n  " + string.Join("\n  ", differences));
    }

    private static readonly RuleInfo Rule = new()
    {
        Id = "SNT-0002", Version = "1.2.3", Name = "MOVE_ALL probing", Description = "MOVE_ALL without CAP_SYS_NICE.",
        Severity = Severity.High, MitreTactics = ["TA0007"], MitreTechniques = ["T1057"], Tags = ["numa"],
    };

    private static Detection DetectionOf(MovePagesEvent e) => new()
    {
        Sequence = 11, Rule = Rule, Time = DateTimeOffset.FromUnixTimeMilliseconds(1_764_000_000_123).AddTicks(4567),
        Host = "web-01", Message = "MOVE_ALL against pid 1", Event = e, Fields = new Dictionary<string, string> { ["target"] = "systemd" },
        FoldCount = 3, FirstTime = DateTimeOffset.FromUnixTimeSeconds(1_764_000_000).AddTicks(1), LastTime = DateTimeOffset.FromUnixTimeSeconds(1_764_000_060).AddTicks(2),
        Remediation = new Remediation("kill", "killed", "/tmp/x", "SIGKILL to 4242"), JournalId = "01JD3K5Q2W", HostId = "web-01-id",
        AgentSequence = 12,
    };

    [Fact]
    public void Every_field_has_a_case_and_a_value_of_its_own()
    {
        // Every field is varied by a case, but Enriched (see Constrained), and the lists the cases use are not empty.
        Assert.Equal(Leaves.Where(l => l != EnrichmentPrefix + nameof(EventEnrichment.Enriched)), ((IEnumerable<object[]>)Fields).Select(row => (string)row[0]));
        Assert.Contains(nameof(MovePagesEvent.Comm), Leaves);
        Assert.Contains($"{Processes[0]}.{nameof(ProcessInfo.ContainerId)}", Leaves);
        // An exception names a property that exists (a renamed one would silently stop being excepted).
        var properties = new[] { typeof(MovePagesEvent), typeof(EventEnrichment), typeof(ProcessInfo) }
            .SelectMany(t => t.GetProperties().Select(p => $"{t.Name}.{p.Name}")).ToHashSet();
        Assert.All(NotOnTheWire.Keys, key => Assert.Contains(key, properties));

        // Two fields with one value would hide a converter writing one into the other (a bool or an enum has too few).
        var values = Leaves.Where(l => l is not (PagesArray or NodesArray or StatusArray))
            .Select(l => (Leaf: l, Value: ValueOf(l, TypeOf(l), 1)))
            .Where(v => v.Value is not bool && !v.Value.GetType().IsEnum)
            .ToList();
        var shared = values.GroupBy(v => string.Join(",", v.Value is IEnumerable<string> list ? list : [v.Value.ToString()]))
            .Where(g => g.Count() > 1).Select(g => string.Join(" = ", g.Select(v => v.Leaf))).ToList();
        Assert.True(shared.Count == 0, "fields share a test value: " + string.Join("; ", shared));
    }

    private static Type TypeOf(string leaf)
    {
        var name = leaf[(leaf.LastIndexOf('.') + 1)..];
        var type = leaf.Count(c => c == '.') switch
        {
            0 => typeof(MovePagesEvent),
            1 => typeof(EventEnrichment),
            _ => typeof(ProcessInfo),
        };
        return type.GetProperty(name)!.PropertyType;
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void A_copy_has_every_field_and_its_wire_form(string varied)
    {
        var original = Build(varied);
        var converted = EventConverter.Shared(original);

        var clone = original.Clone();
        AssertSame(original, clone, "Clone");
        Assert.Same(converted, EventConverter.Shared(clone));

        var target = Build(); // a pooled event reused: every field overwritten
        EventConverter.Shared(target);
        original.CopyTo(target);
        AssertSame(original, target, "CopyTo");
        Assert.Same(converted, EventConverter.Shared(target));
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void Reset_brings_every_field_back_to_a_fresh_events(string varied)
    {
        var e = Build(varied);
        EventConverter.Shared(e);

        e.Reset();

        AssertSame(new MovePagesEvent(), e, "Reset");
        Assert.False(EventConverter.HasShared(e));
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void The_proto_bytes_and_the_json_carry_every_field_there_and_back(string varied)
    {
        var original = Build(varied);

        var fromBytes = new MovePagesEvent();
        EventConverter.FromProto(V1.Event.Parser.ParseFrom(EventConverter.ToProto(original).ToByteArray()), fromBytes);
        AssertSame(original, fromBytes, "EventConverter (ToProto, bytes, FromProto)", wire: true);

        var fromJson = new MovePagesEvent();
        EventJson.Parse(EventJson.Format(original), fromJson);
        AssertSame(original, fromJson, "EventJson (Format, Parse)", wire: true);
    }

    [Theory]
    [MemberData(nameof(Fields))]
    public void The_direct_writer_writes_what_the_converter_gives(string varied)
    {
        var detection = DetectionOf(Build(varied));

        var written = V1.Detection.Parser.ParseFrom(DetectionWireWriter.ToByteArray(detection));

        var back = new MovePagesEvent();
        EventConverter.FromProto(written.Event, back);
        AssertSame(detection.Event, back, "DetectionWireWriter, read back", wire: true);
        var differences = new List<string>();
        ProtoDifferences(DetectionConverter.ToProto(detection), written, "detection", differences);
        Assert.True(differences.Count == 0, "DetectionWireWriter differs from DetectionConverter at: " + string.Join(", ", differences));
    }

    /// <summary>The paths of the fields where <paramref name="expected"/> and <paramref name="actual"/> differ.</summary>
    private static void ProtoDifferences(IMessage expected, IMessage actual, string path, List<string> differences)
    {
        foreach (var field in expected.Descriptor.Fields.InDeclarationOrder())
        {
            var at = $"{path}.{field.Name}";
            object? e = field.Accessor.GetValue(expected), a = field.Accessor.GetValue(actual);
            if (field.IsMap || field.FieldType != FieldType.Message)
            {
                if (!Equals(e, a)) differences.Add(at);
            }
            else if (field.IsRepeated)
            {
                var (el, al) = (((IList)e).Cast<IMessage>().ToList(), ((IList)a).Cast<IMessage>().ToList());
                if (el.Count != al.Count) differences.Add($"{at} (count)");
                for (var i = 0; i < Math.Min(el.Count, al.Count); i++) ProtoDifferences(el[i], al[i], $"{at}[{i}]", differences);
            }
            else if (e is null || a is null)
            {
                if (e != a) differences.Add($"{at} (presence)");
            }
            else ProtoDifferences((IMessage)e, (IMessage)a, at, differences);
        }
        if (differences.Count == 0 && !expected.Equals(actual)) differences.Add($"{path} (unknown fields)");
    }

    [Fact]
    public void An_event_file_reads_back_every_field()
    {
        var original = Build();
        var path = Path.Combine(Directory.CreateTempSubdirectory("sentinel-fields").FullName, "calls.jsonl");
        File.WriteAllLines(path, [EventJson.Format(original), EventJson.Format(Build(nameof(MovePagesEvent.Pid)))]);

        var read = EventJson.ReadFile(path).ToList();

        Assert.Equal(2, read.Count);
        AssertSame(original, read[0], "EventJson.ReadFile", wire: true);
        AssertSame(Build(nameof(MovePagesEvent.Pid)), read[1], "EventJson.ReadFile, second line", wire: true);
    }

    /// <summary>Proto fields the converter leaves unset even for an event with every field set, and why.</summary>
    private static readonly Dictionary<string, string> UnsetOnTheWire = [];

    /// <summary>
    /// The other direction: a field added to proto/sentinel/v1 but to no converter. Every field of the
    /// V1.Detection of a detection whose event has every field set is set, in some element of each list.
    /// </summary>
    [Fact]
    public void Every_proto_field_is_filled_from_a_full_detection()
    {
        var proto = DetectionConverter.ToProto(DetectionOf(Build()));
        var unset = new List<string>();
        Unset([proto], V1.Detection.Descriptor, "detection", unset);
        Assert.True(unset.Count == 0, "proto fields no converter fills: " + string.Join(", ", unset));
        var differences = new List<string>();
        ProtoDifferences(proto, V1.Detection.Parser.ParseFrom(DetectionWireWriter.ToByteArray(DetectionOf(Build()))), "detection", differences);
        Assert.True(differences.Count == 0, "DetectionWireWriter differs from DetectionConverter at: " + string.Join(", ", differences));
    }

    private static void Unset(IReadOnlyList<IMessage> messages, MessageDescriptor descriptor, string path, List<string> unset)
    {
        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            var at = $"{path}.{field.Name}";
            if (UnsetOnTheWire.ContainsKey(at)) continue;
            var values = messages.Select(m => field.Accessor.GetValue(m)).ToList();
            var elements = field.IsRepeated
                ? values.SelectMany(v => field.IsMap ? ((IDictionary)v).Values.Cast<object>() : ((IList)v).Cast<object>()).ToList()
                : values.Where(v => IsSet(field, v)).ToList();
            if (elements.Count == 0)
            {
                unset.Add(at);
                continue;
            }
            if (field.FieldType == FieldType.Message && !field.IsMap)
                Unset(elements.Cast<IMessage>().ToList(), field.MessageType, at, unset);
        }
    }

    private static bool IsSet(FieldDescriptor field, object? value) => value switch
    {
        null => false,
        string s => s.Length > 0,
        bool b => b,
        ByteString bytes => !bytes.IsEmpty,
        Enum e => Convert.ToInt64(e) != 0,
        IMessage => true,
        _ => Convert.ToDecimal(value) != 0,
    };
}
