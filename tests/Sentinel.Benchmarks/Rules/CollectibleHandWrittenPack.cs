using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Sentinel.Events;
using Sentinel.Rules.Testing;

namespace Sentinel.Benchmarks.Rules;

/// <summary>
/// The hand-written pack's own source, compiled by Roslyn at run time and loaded into a collectible context the
/// way rules are: the best a pack compiled into one method could do, since the runtime compiles collectible
/// code once, fully optimized, without tiering or profile data.
/// </summary>
internal static class CollectibleHandWrittenPack
{
    public static IDetector Load()
    {
        using var source = typeof(CollectibleHandWrittenPack).Assembly.GetManifestResourceStream("HandWrittenPack.cs")
                           ?? throw new InvalidOperationException("HandWrittenPack.cs is not embedded");
        // The project's implicit usings, which a compilation outside MSBuild does not get.
        var tree = CSharpSyntaxTree.ParseText("global using System;\n" + new StreamReader(source).ReadToEnd());
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator).Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("HandWrittenPackCollectible", [tree], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release,
                nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        if (!result.Success)
            throw new InvalidOperationException(string.Join("\n", result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        image.Position = 0;
        var assembly = new AssemblyLoadContext("hand-written pack", isCollectible: true).LoadFromStream(image);
        var type = assembly.GetType("Sentinel.Benchmarks.Rules.HandWrittenPack")!;
        return (IDetector)Activator.CreateInstance(type, BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic,
            null, [FixtureRunner.FixtureHost], null)!;
    }
}
