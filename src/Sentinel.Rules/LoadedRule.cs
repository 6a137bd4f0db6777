using System.Reflection;
using System.Runtime.CompilerServices;
using Sentinel.Events;
using Sentinel.Rules.Compilation;
using Sentinel.Rules.Runtime;

namespace Sentinel.Rules;

/// <summary>A compiled rule loaded into its own collectible context; it can make fresh instances of itself.</summary>
internal sealed class LoadedRule
{
    private Type? _ruleType;
    private RuleLoadContext? _context;

    private LoadedRule(string file, string contentHash, RuleLoadContext context, Type ruleType, int budgetChecks, RulePrefilter prefilter)
    {
        Prefilter = prefilter;
        File = file;
        ContentHash = contentHash;
        _context = context;
        _ruleType = ruleType;
        IsInstrumented = budgetChecks > 0;
    }

    public string File { get; }

    /// <summary>The static fields of the rule's own types: roots of the state it keeps between events.</summary>
    public IReadOnlyList<FieldInfo> StaticFields => _staticFields ??= _ruleType is { } t ? RetainedState.StaticFields(t.Assembly) : [];
    private IReadOnlyList<FieldInfo>? _staticFields;
    public string ContentHash { get; }
    /// <summary>False when the rule has no loops, calls or arrays: then no budget needs arming per event.</summary>
    public bool IsInstrumented { get; }
    /// <summary>When the rule's leading guards certainly return: then it is not called at all.</summary>
    public RulePrefilter Prefilter { get; }

    /// <summary>Loads a compiled image; on failure returns null with the reason in <paramref name="diagnostics"/>.</summary>
    public static LoadedRule? Load(RuleCompilation compilation, List<RuleDiagnostic> diagnostics)
    {
        var context = new RuleLoadContext("rule:" + Path.GetFileName(compilation.File));
        try
        {
            var assembly = context.LoadFromStream(new MemoryStream(compilation.Image!));
            var ruleType = assembly.GetTypes().Single(t => t.IsSubclassOf(typeof(Rule)) && !t.IsAbstract);
            var manifest = assembly.GetType(RuleCompiler.ManifestType);
            var checks = manifest?.GetField(RuleCompiler.ManifestChecksField)?.GetRawConstantValue() as int? ?? 1;
            var prefilter = RulePrefilter.Parse(manifest?.GetField(RuleCompiler.ManifestPrefilterField)?.GetRawConstantValue() as string);
            return new LoadedRule(compilation.File, compilation.ContentHash, context, ruleType, checks, prefilter);
        }
        catch (Exception ex) when (ex is BadImageFormatException or InvalidOperationException or ReflectionTypeLoadException
                                       or FileLoadException)
        {
            context.Unload();
            diagnostics.Add(Failure(compilation.File, $"the compiled rule could not be loaded: {ex.Message}"));
            return null;
        }
    }

    /// <summary>
    /// Makes a configured instance: constructor, metadata and <see cref="Rule.Configure"/> all run under the
    /// budget. Returns null with the reason in <paramref name="diagnostics"/>.
    /// </summary>
    public (Rule Rule, RuleInfo Info)? CreateInstance(HostInfo host, IReadOnlyDictionary<string, string> parameters,
        BudgetLimits limits, List<RuleDiagnostic> diagnostics)
    {
        var type = _ruleType ?? throw new ObjectDisposedException(nameof(LoadedRule));
        try
        {
            RuleBudget.Begin(limits);
            RunStaticInitializers(type.Assembly);
            var rule = (Rule)Activator.CreateInstance(type)!;
            rule.Host = host;
            var info = rule.Info ?? throw new InvalidOperationException("Info returned null");
            var problems = Validate(info);
            if (problems.Count > 0)
            {
                diagnostics.AddRange(problems.Select(p => Invalid(File, p)));
                return null;
            }
            RuleBudget.Begin(limits);
            rule.Configure(RuleParameters.For(info.Id, parameters));
            return (rule, info with { File = File });
        }
        catch (Exception ex)
        {
            var inner = ex is TargetInvocationException or TypeInitializationException && ex.InnerException is { } e ? e : ex;
            var what = ex is TypeInitializationException { TypeName: var typeName } ? $"the static initializer of {typeName}" : "the rule";
            diagnostics.Add(Failure(File, $"{what} failed while loading: {inner.GetType().Name}: {inner.Message}"));
            return null;
        }
        finally
        {
            // Loading is over: the watchdog must not go on timing this thread as if a rule still ran on it.
            RuleBudget.Abandon();
        }
    }

    /// <summary>
    /// Runs the static initializers of all the rule's types now, under the load's budget. Left to run lazily, one that
    /// <see cref="Rule.Match"/> never reaches would first run when the engine reads the static fields to measure the
    /// state the rule keeps (<see cref="RetainedState"/>): rule code outside any evaluation, untimed.
    /// </summary>
    private static void RunStaticInitializers(Assembly assembly)
    {
        foreach (var type in assembly.GetTypes())
            if (!type.ContainsGenericParameters) RuntimeHelpers.RunClassConstructor(type.TypeHandle);
    }

    /// <summary>Starts unloading the context; it goes once nothing references the rule's types.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void Unload()
    {
        _ruleType = null;
        _staticFields = null;
        Interlocked.Exchange(ref _context, null)?.Unload();
    }

    /// <summary>For tests: a handle that shows whether the context has been collected.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal WeakReference ContextReference() => new(_context ?? throw new ObjectDisposedException(nameof(LoadedRule)));

    internal static List<string> Validate(RuleInfo info) => RuleMetadata.Validate(info);

    private static RuleDiagnostic Invalid(string file, string message) =>
        new(file, 1, 1, RuleDiagnosticSeverity.Error, RuleDiagnosticCodes.InvalidRule, message);

    private static RuleDiagnostic Failure(string file, string message) =>
        new(file, 1, 1, RuleDiagnosticSeverity.Error, RuleDiagnosticCodes.LoadFailure, message);
}
