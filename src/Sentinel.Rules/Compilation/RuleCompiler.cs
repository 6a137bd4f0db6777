using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Sentinel.Rules.Compilation;

/// <summary>The outcome of compiling one rule file: the assembly image, or the diagnostics that stopped it.</summary>
public sealed record RuleCompilation(
    string File,
    string ContentHash,
    byte[]? Image,
    IReadOnlyList<RuleDiagnostic> Diagnostics,
    bool FromCache)
{
    public bool Succeeded => Image is not null;
}

/// <summary>
/// Compiles a rule file with Roslyn: parse, compile against the framework, check the sandbox on the semantic
/// model, inject the budget checks, and emit an optimized assembly. Results are cached by content hash.
/// </summary>
public sealed class RuleCompiler
{
    /// <summary>The name of the generated type that records how many budget checks a rule carries.</summary>
    internal const string ManifestType = "Sentinel.Rules.Generated.RuleManifest";
    internal const string ManifestChecksField = "BudgetChecks";

    private const string GlobalUsings =
        "global using System; global using System.Collections.Generic; global using Sentinel.Events; global using Sentinel.Rules;";

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest, DocumentationMode.None);
    private static readonly SyntaxTree GlobalUsingsTree = CSharpSyntaxTree.ParseText(GlobalUsings, ParseOptions, "<global-usings>");

    private static readonly CSharpCompilationOptions CompilationOptions = new(
        OutputKind.DynamicallyLinkedLibrary,
        optimizationLevel: OptimizationLevel.Release,
        allowUnsafe: false,
        nullableContextOptions: NullableContextOptions.Enable,
        deterministic: true,
        concurrentBuild: false);

    // Every framework assembly is referenced so hostile code binds and the sandbox can name what it reached for.
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    /// <summary>Changes whenever the compiler, the sandbox or the rule API changes, invalidating the cache.</summary>
    private static readonly string Fingerprint = string.Join("|",
        typeof(RuleCompiler).Assembly.ManifestModule.ModuleVersionId,
        typeof(Sentinel.Events.MovePagesEvent).Assembly.ManifestModule.ModuleVersionId,
        typeof(CSharpCompilation).Assembly.GetName().Version);

    private readonly RuleCache? _cache;

    public RuleCompiler(RuleCache? cache = null) => _cache = cache;

    public static string ContentHash(string source)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes(Fingerprint + "\n" + source));
        return Convert.ToHexStringLower(bytes);
    }

    public RuleCompilation Compile(string path)
    {
        string source;
        try
        {
            source = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new RuleCompilation(path, "", null,
                [new RuleDiagnostic(path, 1, 1, RuleDiagnosticSeverity.Error, RuleDiagnosticCodes.LoadFailure, ex.Message)], false);
        }
        return Compile(path, source);
    }

    public RuleCompilation Compile(string path, string source)
    {
        var hash = ContentHash(source);
        if (_cache?.TryRead(hash) is { } cached)
            return new RuleCompilation(path, hash, cached, [], FromCache: true);

        var tree = CSharpSyntaxTree.ParseText(source, ParseOptions, path, Encoding.UTF8);
        var compilation = CSharpCompilation.Create("SentinelRule_" + hash[..16], [GlobalUsingsTree, tree], References.Value,
            CompilationOptions);
        var model = compilation.GetSemanticModel(tree);

        var diagnostics = new List<RuleDiagnostic>();
        diagnostics.AddRange(SandboxChecker.Check(model, path));
        diagnostics.AddRange(CompilerDiagnostics(compilation, tree, path, sandboxReported: diagnostics));
        diagnostics.AddRange(CheckRuleClass(model, path));
        diagnostics.Sort((a, b) => (a.Line, a.Column).CompareTo((b.Line, b.Column)));
        if (diagnostics.Any(d => d.IsError))
            return new RuleCompilation(path, hash, null, diagnostics, false);

        var image = Emit(compilation, tree, model, path, diagnostics);
        if (image is not null) _cache?.Write(hash, image);
        return new RuleCompilation(path, hash, image, diagnostics, false);
    }

    private static byte[]? Emit(CSharpCompilation compilation, SyntaxTree tree, SemanticModel model, string path,
        List<RuleDiagnostic> diagnostics)
    {
        var rewriter = new BudgetRewriter(model);
        var root = (CompilationUnitSyntax)rewriter.Visit(tree.GetRoot());
        root = root.AddMembers(Manifest(rewriter.Injected));
        var rewritten = compilation.ReplaceSyntaxTree(tree, tree.WithRootAndOptions(root, tree.Options));
        using var stream = new MemoryStream();
        var result = rewritten.Emit(stream);
        if (result.Success) return stream.ToArray();
        // The rewriter produced code that does not compile: an engine bug, reported rather than hidden.
        foreach (var error in result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(5))
            diagnostics.Add(new RuleDiagnostic(path, 1, 1, RuleDiagnosticSeverity.Error, RuleDiagnosticCodes.LoadFailure,
                $"internal error instrumenting the rule: {error.GetMessage()}"));
        return null;
    }

    private static MemberDeclarationSyntax Manifest(int checks) =>
        (MemberDeclarationSyntax)SyntaxFactory.ParseCompilationUnit(
                $"namespace Sentinel.Rules.Generated {{ public static class RuleManifest {{ public const int {ManifestChecksField} = {checks}; }} }}",
                options: ParseOptions)
            .Members[0];

    private static IEnumerable<RuleDiagnostic> CompilerDiagnostics(CSharpCompilation compilation, SyntaxTree tree,
        string path, IReadOnlyList<RuleDiagnostic> sandboxReported)
    {
        foreach (var d in compilation.GetDiagnostics())
        {
            if (d.Severity is not (DiagnosticSeverity.Error or DiagnosticSeverity.Warning)) continue;
            if (d.Location.SourceTree != tree) continue;
            var span = d.Location.GetLineSpan().StartLinePosition;
            var (line, column) = (span.Line + 1, span.Character + 1);
            // Directive and unsafe-code errors duplicate what the sandbox already said on that line.
            if (d.Id is "CS1024" or "CS7011" or "CS8097" or "CS0227" && sandboxReported.Any(s => s.Line == line)) continue;
            yield return new RuleDiagnostic(path, line, column,
                d.Severity == DiagnosticSeverity.Error ? RuleDiagnosticSeverity.Error : RuleDiagnosticSeverity.Warning,
                d.Id, d.GetMessage());
        }
    }

    private static IEnumerable<RuleDiagnostic> CheckRuleClass(SemanticModel model, string path)
    {
        var ruleClasses = model.SyntaxTree.GetRoot().DescendantNodes().OfType<ClassDeclarationSyntax>()
            .Select(c => (Syntax: c, Symbol: model.GetDeclaredSymbol(c)))
            .Where(c => c.Symbol is { IsAbstract: false } s && DerivesFromRule(s))
            .ToList();
        if (ruleClasses.Count == 1) yield break;
        var location = ruleClasses.Count > 1 ? ruleClasses[1].Syntax.Identifier.GetLocation().GetLineSpan().StartLinePosition : default;
        yield return new RuleDiagnostic(path, location.Line + 1, location.Character + 1, RuleDiagnosticSeverity.Error,
            RuleDiagnosticCodes.InvalidRule,
            ruleClasses.Count == 0
                ? "the file declares no rule: declare one class deriving from Rule"
                : $"the file declares {ruleClasses.Count} rules; declare exactly one class deriving from Rule per file");
    }

    private static bool DerivesFromRule(INamedTypeSymbol type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
            if (t.ToDisplayString() == typeof(Rule).FullName) return true;
        return false;
    }

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        var paths = ((string?)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => Path.GetFileName(p).StartsWith("System.", StringComparison.Ordinal)
                        || Path.GetFileName(p) is "mscorlib.dll" or "netstandard.dll")
            .Append(typeof(object).Assembly.Location)
            .Append(typeof(Rule).Assembly.Location)
            .Append(typeof(Sentinel.Events.MovePagesEvent).Assembly.Location)
            .Where(p => !string.IsNullOrEmpty(p))
            .DistinctBy(p => Path.GetFileName(p), StringComparer.Ordinal);
        return [.. paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    }
}
