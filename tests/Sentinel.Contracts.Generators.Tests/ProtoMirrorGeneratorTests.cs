using System.Collections.Immutable;
using Google.Protobuf.Collections;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Sentinel.Contracts.Generators;

namespace Sentinel.Contracts.Generators.Tests;

/// <summary>
/// The proto mirror generator run as the compiler runs it (CSharpGeneratorDriver), on a message shaped as Grpc.Tools
/// generates them (a property and an <c>XFieldNumber</c> constant per field) and a small event type.
/// </summary>
public class ProtoMirrorGeneratorTests
{
    private const string Types = """
        using System;
        using System.Collections.Generic;
        using Google.Protobuf.Collections;
        namespace Sentinel.Contracts
        {
            [AttributeUsage(AttributeTargets.Class)]
            internal sealed class ProtoMirrorAttribute(Type message, Type source) : Attribute
            {
                public string[] ByHand { get; init; } = [];
            }
            internal ref struct ProtoWriter
            {
                public List<string> Log;
                public void Int32(int field, int value) => Log.Add($"{field}:{value}");
                public void UInt64(int field, ulong value) => Log.Add($"{field}:{value}");
                public void String(int field, string value) => Log.Add($"{field}:{value}");
                public void Strings(int field, IReadOnlyList<string> values) => Log.Add($"{field}:{string.Join("|", values)}");
            }
        }
        namespace Wire
        {
            public sealed class Proc
            {
                public const int PidFieldNumber = 1;
                public const int CommFieldNumber = 2;
                public const int ArgsFieldNumber = 3;
                public const int CgroupIdFieldNumber = 4;
                public const int ParentFieldNumber = 5;
                public int Pid { get; set; }
                public string Comm { get; set; } = "";
                public RepeatedField<string> Args { get; } = new();
                public ulong CgroupId { get; set; }
                public Proc? Parent { get; set; }
            }
        }
        namespace Model
        {
            public sealed class Info
            {
                public int Pid { get; set; }
                public string Comm { get; set; } = "";
                public IReadOnlyList<string> Args { get; set; } = [];
                public ulong CgroupId { get; set; }
                public string NotOnTheWire { get; set; } = "";
            }
            public sealed class Wide
            {
                public long Pid { get; set; }
                public string Comm { get; set; } = "";
                public IReadOnlyList<string> Args { get; set; } = [];
                public ulong CgroupId { get; set; }
            }
            public sealed record Frozen
            {
                public required int Pid { get; init; }
                public string Comm { get; init; } = "";
                public IReadOnlyList<string> Args { get; init; } = [];
                public ulong CgroupId { get; init; }
            }
        }
        """;

    private const string Hooks = """
            private static partial string Text(string value, string field) => value.Length <= 16 ? value : throw new System.FormatException(field);
            private static partial System.Collections.Generic.IReadOnlyList<string> Texts(Google.Protobuf.Collections.RepeatedField<string> values, string field) => [.. values];
        """;

    [Fact]
    public void Maps_every_same_named_field_both_ways_and_to_bytes_in_field_order()
    {
        var (compilation, diagnostics, sources) = WithHooks("InfoMirror", "Model.Info");

        Assert.Empty(diagnostics);
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        var mirror = Load(compilation).GetType("Sentinel.Contracts.InfoMirror")!;
        Assert.Equal(["Pid", "Comm", "Args", "CgroupId"], (string[])mirror.GetField("Mapped", Flags)!.GetValue(null)!);

        // What Fill sets, Read reads back; Write writes the same values in field-number order.
        var assembly = mirror.Assembly;
        var info = assembly.CreateInstance("Model.Info")!;
        Set(info, "Pid", 42); Set(info, "Comm", "numad"); Set(info, "Args", new[] { "-i", "5" }); Set(info, "CgroupId", 7UL);
        var proc = assembly.CreateInstance("Wire.Proc")!;
        mirror.GetMethod("Fill", Flags)!.Invoke(null, [proc, info]);
        Assert.Equal((42, "numad", "-i 5", 7UL), ((int)Get(proc, "Pid"), (string)Get(proc, "Comm"), string.Join(" ", (RepeatedField<string>)Get(proc, "Args")), (ulong)Get(proc, "CgroupId")));

        var back = assembly.CreateInstance("Model.Info")!;
        mirror.GetMethod("Read", Flags)!.Invoke(null, [proc, back, "proc"]);
        Assert.Equal((42, "numad", "-i 5", 7UL), ((int)Get(back, "Pid"), (string)Get(back, "Comm"), string.Join(" ", (IReadOnlyList<string>)Get(back, "Args")), (ulong)Get(back, "CgroupId")));

        Assert.Contains("writer.Int32(global::Wire.Proc.PidFieldNumber, source.Pid);\n        writer.String(global::Wire.Proc.CommFieldNumber, source.Comm);\n" +
                        "        writer.Strings(global::Wire.Proc.ArgsFieldNumber, source.Args);\n        writer.UInt64(global::Wire.Proc.CgroupIdFieldNumber, source.CgroupId);",
            sources["InfoMirror.ProtoMirror.g.cs"]);
    }

    [Fact]
    public void Text_from_the_wire_goes_through_the_hand_written_bound_with_its_json_path()
    {
        var (compilation, _, _) = WithHooks("InfoMirror", "Model.Info");
        var mirror = Load(compilation).GetType("Sentinel.Contracts.InfoMirror")!;
        var proc = mirror.Assembly.CreateInstance("Wire.Proc")!;
        Set(proc, "Comm", new string('x', 17));

        var error = Assert.Throws<System.Reflection.TargetInvocationException>(() =>
            mirror.GetMethod("Read", Flags)!.Invoke(null, [proc, mirror.Assembly.CreateInstance("Model.Info")!, "enrichment.caller"]));
        Assert.Equal("enrichment.caller.comm", error.InnerException!.Message);
    }

    [Fact]
    public void A_record_with_init_only_properties_is_created_not_filled()
    {
        var (compilation, diagnostics, sources) = WithHooks("FrozenMirror", "Model.Frozen");

        Assert.Empty(diagnostics);
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.Contains("internal static global::Model.Frozen Create(global::Wire.Proc message, string path) => new global::Model.Frozen", sources["FrozenMirror.ProtoMirror.g.cs"]);
    }

    [Fact]
    public void A_field_without_a_same_named_property_fails_the_build_naming_it()
    {
        var (_, diagnostics, sources) = Run("""
            namespace Sentinel.Contracts;
            [ProtoMirror(typeof(Wire.Proc), typeof(Model.Info))]
            internal static partial class InfoMirror;
            """);

        var d = Assert.Single(diagnostics);
        Assert.Equal(("SNTPROTO001", DiagnosticSeverity.Error), (d.Id, d.Severity));
        Assert.Equal("Proc.Parent (field 5) has no property Parent on Info: add one, or list \"Parent\" in ByHand and convert it by hand", d.GetMessage());
        Assert.Empty(sources);
    }

    [Theory]
    [InlineData("""[ProtoMirror(typeof(Wire.Proc), typeof(Model.Frozen), ByHand = ["Parent", "Comm", "Args"])] internal static partial class M;""", null)]
    [InlineData("""[ProtoMirror(typeof(Wire.Proc), typeof(Model.Wide), ByHand = ["Parent"])] internal static partial class M;""", "SNTPROTO003:Proc.Pid is int and Wide.Pid is long: the property does not convert")]
    [InlineData("""[ProtoMirror(typeof(Wire.Proc), typeof(Model.Info), ByHand = ["Parent", "Pidd"])] internal static partial class M { }""", "SNTPROTO002:ByHand lists \"Pidd\"")]
    [InlineData("""[ProtoMirror(typeof(Wire.Proc), typeof(Model.Info), ByHand = ["Parent"])] internal partial class M;""", "SNTPROTO004:M must be declared static partial")]
    public void Each_binding_error_has_its_own_diagnostic(string binding, string? expected)
    {
        var (_, diagnostics, _) = Run("namespace Sentinel.Contracts;\n" + binding);

        if (expected is null) Assert.Empty(diagnostics);
        else
        {
            var d = Assert.Single(diagnostics);
            Assert.StartsWith(expected, $"{d.Id}:{d.GetMessage()}");
        }
    }

    /// <summary>A mirror of Wire.Proc (its Parent by hand) with the text hooks implemented.</summary>
    private static (Compilation, ImmutableArray<Diagnostic>, Dictionary<string, string>) WithHooks(string mirror, string source) => Run($$"""
        namespace Sentinel.Contracts;
        [ProtoMirror(typeof(Wire.Proc), typeof({{source}}), ByHand = ["Parent"])]
        internal static partial class {{mirror}}
        {
        {{Hooks}}
        }
        """);

    private const System.Reflection.BindingFlags Flags = System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public;

    private static void Set(object o, string property, object value) => o.GetType().GetProperty(property)!.SetValue(o, value);
    private static object Get(object o, string property) => o.GetType().GetProperty(property)!.GetValue(o)!;

    private static System.Reflection.Assembly Load(Compilation compilation)
    {
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        Assert.True(result.Success, string.Join("\n", result.Diagnostics));
        return System.Reflection.Assembly.Load(image.ToArray());
    }

    private static (Compilation, ImmutableArray<Diagnostic>, Dictionary<string, string>) Run(string source)
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(p => MetadataReference.CreateFromFile(p));
        var parse = new CSharpParseOptions(LanguageVersion.Preview);
        var compilation = CSharpCompilation.Create("Sample", [CSharpSyntaxTree.ParseText(Types, parse), CSharpSyntaxTree.ParseText(source, parse)],
            references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var driver = CSharpGeneratorDriver.Create([new ProtoMirrorGenerator().AsSourceGenerator()], parseOptions: parse)
            .RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var sources = driver.GetRunResult().Results.SelectMany(r => r.GeneratedSources).ToDictionary(s => s.HintName, s => s.SourceText.ToString());
        return (output, diagnostics, sources);
    }
}
