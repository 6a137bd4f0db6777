using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using Sentinel.Bpf;
using Sentinel.Bpf.Generators;
using Sentinel.TestSupport;

namespace Sentinel.Bpf.Generators.Tests;

/// <summary>The mirror generator run as the compiler runs it (CSharpGeneratorDriver) on small headers.</summary>
public class GeneratorTests
{
    private const string Sample = """
        /* A sample in the style of bpf/*.h. */
        #ifndef SAMPLE_H
        #define SAMPLE_H
        #include <linux/types.h>

        #define SNT_SLOTS 4 /* entries per record */
        #define SNT_MAGIC 0x32544e53
        #define SNT_BIG 10000000ULL

        enum snt_kind {
        	SNT_KIND_FORK = 1, /* a comment */
        	SNT_KIND_EXEC,
        	SNT_KIND_EXIT = 1 << 4,
        };

        struct snt_inner {
        	__u64 enter_ns;
        	__u8 copied;
        	__u8 pad[7];
        };

        struct snt_outer {
        	__u32 magic;
        	struct snt_inner call;
        	__s64 ret;
        	__s32 nodes[SNT_SLOTS];
        	char comm[16];
        	struct snt_inner many[2];
        };

        _Static_assert(sizeof(struct snt_outer) == 96, "userspace mirrors this layout");
        #endif
        """;

    private const string Bindings = """
        using Sentinel.Bpf;
        namespace Sample;
        [BpfStruct("snt_outer")] public partial struct Outer;
        [BpfStruct("snt_inner")] public partial struct Inner;
        [BpfHeader("sample.h")] public static partial class SampleHeader;
        """;

    [Fact]
    public void Writes_fields_constants_enums_and_the_layout_list()
    {
        var (compilation, diagnostics, sources) = Run(Sample, Bindings);

        Assert.Empty(diagnostics);
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.All(new[]
        {
            "[global::System.Runtime.InteropServices.StructLayout(global::System.Runtime.InteropServices.LayoutKind.Sequential)]",
            "public uint Magic;", "public global::Sample.Inner Call;", "public long Ret;", "public fixed int Nodes[4];",
            "public fixed byte Comm[16];", "[global::System.Runtime.CompilerServices.InlineArray(2)]",
            "(\"call.enter_ns\", \"Call.EnterNs\")", "(\"many\", \"Many\")",
        }, line => Assert.Contains(line, sources["Outer.Mirror.g.cs"]));
        Assert.All(new[]
        {
            "public const int Slots = 4;", "public const int Magic = 0x32544e53;", "public const ulong Big = 10000000;",
            "public enum Kind : uint", "Fork = 1,", "Exec = 2,", "Exit = 16,",
        }, line => Assert.Contains(line, sources["SampleHeader.Mirror.g.cs"]));
    }

    [Fact]
    public void The_generated_struct_has_the_C_layout()
    {
        var (compilation, _, _) = Run(Sample, Bindings);
        using var image = new MemoryStream();
        Assert.True(compilation.Emit(image).Success);
        var outer = System.Reflection.Assembly.Load(image.ToArray()).GetType("Sample.Outer")!;

        // x86-64's natural alignment, as gcc lays it out: magic 0, call 8 (its copied at 16), ret 24, nodes 32, comm 48, many 64.
        Assert.Equal(96, Marshal.SizeOf(outer));
        Assert.Equal([0, 8, 16, 24, 32, 48, 64], new[] { "Magic", "Call", "Call.Copied", "Ret", "Nodes", "Comm", "Many" }.Select(p => HeaderLayout.OffsetOf(outer, p)));
    }

    [Theory]
    [InlineData("struct snt_bad {\n\tvoid *ptr;\n};", 2, "field type 'void' is not understood")]
    [InlineData("struct snt_bad {\n\t__u32 a : 3;\n};", 2, "':' after field a is not understood")]
    [InlineData("union snt_bad {\n\t__u32 a;\n};", 1, "'union' here is not understood")]
    [InlineData("#define SNT_X (1 + 2)", 1, "only an integer literal is understood")]
    [InlineData("#define SNT_F(x) (x)", 1, "function-like macros are not understood")]
    [InlineData("struct snt_bad {\n\t__u32 a[SNT_NOWHERE];\n};", 2, "array size 'SNT_NOWHERE'")]
    [InlineData("#if 0\n#endif", 1, "#if is not understood")]
    public void An_unknown_construct_is_a_diagnostic_at_its_line(string header, int line, string message)
    {
        var (_, diagnostics, _) = Run(header, "");

        var d = Assert.Single(diagnostics);
        Assert.Equal("SNTBPF001", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Contains(message, d.GetMessage());
        Assert.Equal("sample.h", Path.GetFileName(d.Location.GetLineSpan().Path));
        Assert.Equal(line, d.Location.GetLineSpan().StartLinePosition.Line + 1);
    }

    [Fact]
    public void A_binding_to_a_missing_or_unbound_struct_is_a_diagnostic()
    {
        var (_, missing, _) = Run(Sample, """
            [Sentinel.Bpf.BpfStruct("snt_nowhere")] partial struct Lost;
            [Sentinel.Bpf.BpfStruct("snt_outer")] struct NotPartial;
            """);
        Assert.Equal(["SNTBPF002", "SNTBPF004"], missing.Select(d => d.Id).Order());

        var (_, unbound, _) = Run(Sample, """[Sentinel.Bpf.BpfStruct("snt_outer")] partial struct Outer;""");
        Assert.Contains("struct snt_outer field call is a struct snt_inner", Assert.Single(unbound).GetMessage());
    }

    [Fact]
    public void The_project_headers_are_all_understood()
    {
        foreach (var file in Directory.GetFiles(RepoPaths.Bpf, "*.h"))
        {
            var (_, diagnostics, _) = Run(File.ReadAllText(file), "", Path.GetFileName(file));
            Assert.True(diagnostics.IsEmpty, $"{file}: {string.Join("; ", diagnostics)}");
        }
    }

    [Fact]
    public void An_edit_elsewhere_in_the_project_reuses_the_output()
    {
        var (compilation, _, _) = Run(Sample, Bindings);
        var original = compilation.RemoveSyntaxTrees(compilation.SyntaxTrees.Where(t => t.FilePath.EndsWith(".g.cs")));
        var driver = Driver(Sample, "sample.h").RunGenerators(original);
        driver = driver.RunGenerators(original.AddSyntaxTrees(CSharpSyntaxTree.ParseText("class Unrelated { }", new CSharpParseOptions(LanguageVersion.Preview))));

        var outputs = driver.GetRunResult().Results.Single().TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs);
        Assert.All(outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, o.Reason.ToString()));
    }

    private static (Compilation, ImmutableArray<Diagnostic>, Dictionary<string, string>) Run(string header, string source, string name = "sample.h")
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(p => MetadataReference.CreateFromFile(p)).Append(MetadataReference.CreateFromFile(typeof(BpfStructAttribute).Assembly.Location));
        var compilation = CSharpCompilation.Create("Sample", [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Preview))],
            references, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));
        var driver = Driver(header, name).RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var sources = driver.GetRunResult().Results.SelectMany(r => r.GeneratedSources).ToDictionary(s => s.HintName, s => s.SourceText.ToString());
        return (output, diagnostics, sources);
    }

    private static GeneratorDriver Driver(string header, string name) =>
        CSharpGeneratorDriver.Create([new MirrorGenerator().AsSourceGenerator()], [new HeaderText("/src/bpf/" + name, header)],
            new CSharpParseOptions(LanguageVersion.Preview), driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    private sealed class HeaderText(string path, string text) : AdditionalText
    {
        public override string Path => path;
        public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text);
    }
}
