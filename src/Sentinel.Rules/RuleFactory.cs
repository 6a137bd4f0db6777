using Microsoft.Extensions.Logging;
using Sentinel.Rules.Compilation;

namespace Sentinel.Rules;

/// <summary>Turns rule files into running slots: compile (or hit the cache), load, instantiate, configure.</summary>
internal sealed class RuleFactory(RuleEngineOptions options, HostInfo host, ILogger logger)
{
    private readonly RuleCompiler _compiler = new(TrustedCache(options, logger));

    private static RuleCache? TrustedCache(RuleEngineOptions options, ILogger logger)
    {
        var cache = RuleCache.For(options);
        if (cache?.Untrusted is { } why) logger.LogWarning("compiled rules are not cached: {Reason}; every rule is compiled at each start", why);
        return cache;
    }

    public HostInfo Host => host;

    public RuleCompilation Compile(string file) => _compiler.Compile(file);

    /// <summary>Loads a compiled rule and makes its first slot; null (with diagnostics) if it fails.</summary>
    public RuleSlot? Load(RuleCompilation compilation, List<RuleDiagnostic> diagnostics)
    {
        diagnostics.AddRange(compilation.Diagnostics);
        if (!compilation.Succeeded) return null;
        var loaded = LoadedRule.Load(compilation, diagnostics);
        if (loaded is null) return null;
        var slot = NewSlot(loaded, host, diagnostics);
        if (slot is null) loaded.Unload();
        return slot;
    }

    /// <summary>A fresh instance of an already loaded rule (fixture cases each start with empty state).</summary>
    public RuleSlot? NewSlot(LoadedRule loaded, HostInfo hostInfo, List<RuleDiagnostic> diagnostics)
    {
        // A concise script reads its parameters while its top-level code runs, inside CreateInstance.
        using var scope = RuleScript.BeginLoad(options.Parameters);
        return loaded.CreateInstance(hostInfo, options.Parameters, options.Budget, diagnostics) is var (rule, info)
            ? new RuleSlot(loaded, rule, info, options, logger)
            : null;
    }
}
