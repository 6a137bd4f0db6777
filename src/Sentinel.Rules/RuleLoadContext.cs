using System.Reflection;
using System.Runtime.Loader;

namespace Sentinel.Rules;

/// <summary>
/// A collectible context holding one compiled rule. Everything else (Sentinel.Events, Sentinel.Rules, the
/// framework) resolves from the default context, so the event and API types are shared with the engine.
/// </summary>
internal sealed class RuleLoadContext(string name) : AssemblyLoadContext(name, isCollectible: true)
{
    protected override Assembly? Load(AssemblyName assemblyName) => null;
}
