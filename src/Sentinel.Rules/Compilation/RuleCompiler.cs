using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Emit;
using Microsoft.CodeAnalysis.Scripting;
using Sentinel.Rules.Analyzers;

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

    private Lazy<RuleIdLocation?>? _declaredId;

    /// <summary>The rule id as written in the source, and where, when it is a literal (for duplicate-id errors).</summary>
    public RuleIdLocation? DeclaredId { get => _declaredId?.Value; init => _declaredId = new(value); }

    /// <summary>Finds <see cref="DeclaredId"/> on first use: a cached rule's source is parsed only if someone asks.</summary>
    internal Func<RuleIdLocation?> FindDeclaredId { init => _declaredId = new(value); }
}

/// <summary>Where a rule file spells its id.</summary>
public sealed record RuleIdLocation(string Id, int Line, int Column);

/// <summary>
/// Compiles a rule file as a C# script (CSharpScript, with resolvers that refuse <c>#r</c> and <c>#load</c>):
/// check the sandbox with <see cref="SandboxAnalyzer"/>, check the rule's shape and metadata, inject the
/// budget checks, and emit an optimized assembly with its line table, for a collectible context. The
/// script's top-level code runs once when the rule loads (<see cref="RuleScript"/>); the engine then calls
/// what it registered per event. Results are cached by content hash.
/// </summary>
public sealed class RuleCompiler
{
    /// <summary>The generated type that records how many budget checks a rule carries (nested in the script class).</summary>
    internal const string ManifestType = ScriptClass + "+" + ManifestName;
    internal const string ManifestChecksField = "BudgetChecks";
    internal const string ManifestPrefilterField = "Prefilter";
    private const string ManifestName = "SentinelRuleManifest__";
    private const string ScriptClass = "Submission#0";
    private const string ScriptRuleName = "SentinelScriptRule__";

    /// <summary>The namespaces every rule sees, as the rules project's GlobalUsings.cs declares them.</summary>
    public static readonly ImmutableArray<string> Imports = ["System", "System.Collections.Generic", "Sentinel.Events", "Sentinel.Rules"];

    private static readonly CSharpParseOptions ParseOptions =
        new(LanguageVersion.Latest, DocumentationMode.None, SourceCodeKind.Script);

    private static readonly Lazy<ImmutableArray<DiagnosticAnalyzer>> Analyzers = new(() => [new SandboxAnalyzer(), new RuleShapeAnalyzer(RuleMetadata.KnownEvents)]);

    // Every framework assembly is referenced so hostile code binds and the sandbox can name what it reached for.
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(LoadReferences);

    private static readonly Lazy<ScriptOptions> Options = new(() => ScriptOptions.Default
        .WithReferences(References.Value)
        .WithImports(Imports)
        .WithMetadataResolver(DenyingMetadataResolver.Instance)
        .WithSourceResolver(DenyingSourceResolver.Instance)
        .WithLanguageVersion(LanguageVersion.Latest)
        .WithOptimizationLevel(OptimizationLevel.Release)
        .WithAllowUnsafe(false)
        .WithCheckOverflow(false)
        .WithEmitDebugInformation(false));

    /// <summary>Changes whenever the compiler, the sandbox or the rule API changes, invalidating the cache.</summary>
    private static readonly string Fingerprint = string.Join("|",
        typeof(RuleCompiler).Assembly.ManifestModule.ModuleVersionId,
        typeof(SandboxAnalyzer).Assembly.ManifestModule.ModuleVersionId,
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
            source = RuleFileText.Read(path);
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
            return new RuleCompilation(path, hash, cached, _cache.ReadWarnings(hash, path), FromCache: true)
            {
                // Parsing costs a warm `rules test` a fifth of its time (Roslyn's parser, JIT-compiled per process),
                // and only a duplicate id needs it.
                FindDeclaredId = () => RuleShape.FindId(Parse(path, source)),
            };

        var compilation = CreateCompilation(path, source, hash);
        var tree = compilation.SyntaxTrees.Single();
        var model = compilation.GetSemanticModel(tree);

        var diagnostics = new List<RuleDiagnostic>();
        var all = compilation.WithAnalyzers(Analyzers.Value).GetAllDiagnosticsAsync().GetAwaiter().GetResult();
        var sandboxLines = all.Where(d => d.Id.StartsWith("SNT", StringComparison.Ordinal))
            .Select(d => d.Location.GetLineSpan().StartLinePosition.Line).ToHashSet();
        foreach (var d in all)
        {
            if (d.Severity is not (DiagnosticSeverity.Error or DiagnosticSeverity.Warning)) continue;
            if (d.Location.SourceTree != tree) continue;
            // Directive and unsafe-code errors duplicate what the sandbox already said on that line.
            if (d.Id is "CS1024" or "CS7011" or "CS8097" or "CS0227" or "CS0006" or "CS1504" or "CS7010"
                && sandboxLines.Contains(d.Location.GetLineSpan().StartLinePosition.Line)) continue;
            diagnostics.Add(CompilerMessages.ToRuleDiagnostic(d, model, path));
        }
        var declaredId = RuleShape.FindId(tree);
        diagnostics.Sort((a, b) => (a.Line, a.Column).CompareTo((b.Line, b.Column)));
        if (diagnostics.Any(d => d.IsError))
            return new RuleCompilation(path, hash, null, diagnostics, false) { DeclaredId = declaredId };

        var image = Emit(compilation, tree, model, path, RuleShapeAnalyzer.IsConcise((CompilationUnitSyntax)tree.GetRoot()), diagnostics);
        if (image is not null) _cache?.Write(hash, image, diagnostics);
        return new RuleCompilation(path, hash, image, diagnostics, false) { DeclaredId = declaredId };
    }

    /// <summary>The script compilation of one rule file, exactly as the agent builds it (also used by tests).</summary>
    internal static CSharpCompilation CreateCompilation(string path, string source, string hash)
    {
        var script = CSharpScript.Create(source, Options.Value.WithFilePath(path).WithFileEncoding(Encoding.UTF8));
        var compilation = (CSharpCompilation)script.GetCompilation();
        return compilation
            .WithAssemblyName("SentinelRule_" + hash[..16])
            .WithOptions(compilation.Options
                .WithNullableContextOptions(NullableContextOptions.Enable)
                .WithConcurrentBuild(false)
                .WithDeterministic(true));
    }

    private static SyntaxTree Parse(string path, string source) => CSharpSyntaxTree.ParseText(source, ParseOptions, path);

    private static byte[]? Emit(CSharpCompilation compilation, SyntaxTree tree, SemanticModel model, string path,
        bool concise, List<RuleDiagnostic> diagnostics)
    {
        var rewriter = new BudgetRewriter(model);
        var prefilter = PrefilterExtractor.Find((CompilationUnitSyntax)tree.GetRoot(), model);
        var root = MatchFrame.Keep((CompilationUnitSyntax)rewriter.Visit(tree.GetRoot()));
        // Appended after the sandbox ran: engine plumbing, on the last line so the rule's line numbers stay.
        root = root.AddMembers(Member($"public static class {ManifestName} {{ public const int {ManifestChecksField} = {rewriter.Injected}; " +
                                      $"public const string {ManifestPrefilterField} = \"{prefilter}\"; }}"));
        if (concise) root = root.AddMembers(Member($"public sealed class {ScriptRuleName} : global::Sentinel.Rules.{nameof(ScriptedRule)} {{ }}"));
        var rewritten = compilation.ReplaceSyntaxTree(tree, tree.WithRootAndOptions(root, tree.Options));
        using var stream = new MemoryStream();
        // The embedded line table lets a rule's exception name its .csx line.
        var result = rewritten.Emit(stream, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.Embedded));
        if (result.Success) return stream.ToArray();
        // The rewriter produced code that does not compile: an engine bug, reported rather than hidden.
        foreach (var error in result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Take(5))
            diagnostics.Add(new RuleDiagnostic(path, 1, 1, RuleDiagnosticSeverity.Error, RuleDiagnosticCodes.LoadFailure,
                $"internal error instrumenting the rule: {error.GetMessage()}"));
        return null;
    }

    private static MemberDeclarationSyntax Member(string code) =>
        (MemberDeclarationSyntax)SyntaxFactory.ParseCompilationUnit(code, options: ParseOptions).Members[0];

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

    /// <summary>Resolves no <c>#r</c>: rules reference only what the engine gives them.</summary>
    private sealed class DenyingMetadataResolver : MetadataReferenceResolver
    {
        public static readonly DenyingMetadataResolver Instance = new();

        public override ImmutableArray<PortableExecutableReference> ResolveReference(string reference, string? baseFilePath,
            MetadataReferenceProperties properties) => [];

        public override bool Equals(object? other) => other is DenyingMetadataResolver;
        public override int GetHashCode() => 1;
    }

    /// <summary>Resolves no <c>#load</c>: a rule is one self-contained file.</summary>
    private sealed class DenyingSourceResolver : SourceReferenceResolver
    {
        public static readonly DenyingSourceResolver Instance = new();

        public override string? NormalizePath(string path, string? baseFilePath) => null;
        public override string? ResolveReference(string path, string? baseFilePath) => null;
        public override Stream OpenRead(string resolvedPath) => throw new IOException("rules cannot #load files");
        public override bool Equals(object? other) => other is DenyingSourceResolver;
        public override int GetHashCode() => 2;
    }
}
