using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace Sentinel.Rules.Analyzers;

/// <summary>
/// What rule code may touch: an allowlist of types (everything else, including all of IO, networking,
/// processes, reflection, interop, threading, Environment, AppDomain, GC and Console, is out), minus a
/// denylist of members of allowed types that would break isolation or bounded evaluation.
/// </summary>
internal static class SandboxPolicy
{
    public const string RuleType = "Sentinel.Rules.Rule";

    public static readonly HashSet<string> AllowedNamespaces = new(StringComparer.Ordinal)
    {
        "System", "System.Collections.Generic", "Sentinel.Events", "Sentinel.Rules",
    };

    private static readonly HashSet<string> AllowedTypes = new(StringComparer.Ordinal)
    {
        // Primitives and value helpers.
        "System.Object", "System.String", "System.Boolean", "System.Char", "System.Byte", "System.SByte",
        "System.Int16", "System.UInt16", "System.Int32", "System.UInt32", "System.Int64", "System.UInt64",
        "System.Single", "System.Double", "System.Decimal", "System.Void", "System.ValueType", "System.Enum",
        "System.Math", "System.MathF", "System.TimeSpan", "System.DateTime", "System.DateTimeOffset",
        "System.Nullable`1", "System.Span`1", "System.ReadOnlySpan`1", "System.MemoryExtensions",
        "System.Index", "System.Range", "System.HashCode", "System.StringComparison", "System.StringComparer",
        "System.StringSplitOptions", "System.CharEnumerator", "System.Array",
        "System.IEquatable`1", "System.IComparable", "System.IComparable`1", "System.IDisposable",
        "System.Predicate`1", "System.Comparison`1", "System.Action",
        // Exceptions a rule may throw (the engine counts them); catching is not allowed.
        "System.Exception", "System.InvalidOperationException", "System.ArgumentException",
        "System.ArgumentNullException", "System.ArgumentOutOfRangeException", "System.NotSupportedException",
        "System.NotImplementedException", "System.FormatException",
        // Collections.
        "System.Collections.IEnumerable", "System.Collections.IEnumerator",
        "System.Collections.Generic.List`1", "System.Collections.Generic.Dictionary`2",
        "System.Collections.Generic.HashSet`1", "System.Collections.Generic.Queue`1",
        "System.Collections.Generic.Stack`1", "System.Collections.Generic.SortedSet`1",
        "System.Collections.Generic.SortedDictionary`2", "System.Collections.Generic.KeyValuePair`2",
        "System.Collections.Generic.IEnumerable`1", "System.Collections.Generic.IEnumerator`1",
        "System.Collections.Generic.IReadOnlyList`1", "System.Collections.Generic.IReadOnlyCollection`1",
        "System.Collections.Generic.IReadOnlyDictionary`2", "System.Collections.Generic.IReadOnlySet`1",
        "System.Collections.Generic.IList`1", "System.Collections.Generic.ICollection`1",
        "System.Collections.Generic.IDictionary`2", "System.Collections.Generic.ISet`1",
        "System.Collections.Generic.EqualityComparer`1", "System.Collections.Generic.Comparer`1",
        "System.Collections.Generic.IEqualityComparer`1", "System.Collections.Generic.IComparer`1",
        // The event model, read-only (mutation is checked separately).
        "Sentinel.Events.MovePagesEvent", "Sentinel.Events.EventEnrichment", "Sentinel.Events.ProcessInfo",
        "Sentinel.Events.MoveFlags", "Sentinel.Events.Capability", "Sentinel.Events.CapabilitySet",
        "Sentinel.Events.Errno", "Sentinel.Events.ArgTags", "Sentinel.Events.CopyFlags",
        "Sentinel.Events.AttachStrategy", "Sentinel.Events.Severity", "Sentinel.Events.RuleInfo",
        // The rule API.
        "Sentinel.Rules.Rule", "Sentinel.Rules.Findings", "Sentinel.Rules.RuleParameters",
        "Sentinel.Rules.HostInfo", "Sentinel.Rules.SlidingWindow`1", "Sentinel.Rules.SlidingSum`1",
        "Sentinel.Rules.SlidingDistinct`2", "Sentinel.Rules.RuleScript",
        "Sentinel.Rules.MatchFunction",
        // The response API (kernel policies and verdicts).
        "Sentinel.Events.RuleResponse", "Sentinel.Events.KernelPolicy", "Sentinel.Events.ResponseAction",
        "Sentinel.Events.CallTarget", "Sentinel.Events.CallerNamespace",
    };

    private static readonly string[] AllowedTypePrefixes =
    [
        "System.ValueTuple", "System.Func`", "System.Action`",
    ];

    /// <summary>Members of allowed types that stay out, with the reason shown to the author.</summary>
    private static readonly Dictionary<string, string> DeniedMembers = new(StringComparer.Ordinal)
    {
        ["System.Object.GetType"] = "reflection",
        ["System.Object.MemberwiseClone"] = "reflection",
        ["System.Array.Resize"] = "unbounded allocation",
        ["System.Array.CreateInstance"] = "reflection",
        ["System.Array.CreateInstanceFromArrayType"] = "reflection",
        ["System.String.PadLeft"] = "unbounded allocation",
        ["System.String.PadRight"] = "unbounded allocation",
        ["System.String.Create"] = "unbounded allocation",
        ["System.Collections.Generic.List`1.EnsureCapacity"] = "unbounded allocation",
        ["System.Collections.Generic.HashSet`1.EnsureCapacity"] = "unbounded allocation",
        ["System.Collections.Generic.Dictionary`2.EnsureCapacity"] = "unbounded allocation",
        ["System.Collections.Generic.Queue`1.EnsureCapacity"] = "unbounded allocation",
        ["System.Collections.Generic.Stack`1.EnsureCapacity"] = "unbounded allocation",
        ["System.Collections.Generic.List`1.Capacity"] = "unbounded allocation",
        ["Sentinel.Events.MovePagesEvent.PagesAtEntryBuffer"] = "mutable event buffer",
        ["Sentinel.Events.MovePagesEvent.PagesAtExitBuffer"] = "mutable event buffer",
        ["Sentinel.Events.MovePagesEvent.NodesAtEntryBuffer"] = "mutable event buffer",
        ["Sentinel.Events.MovePagesEvent.NodesAtExitBuffer"] = "mutable event buffer",
        ["Sentinel.Events.MovePagesEvent.StatusBuffer"] = "mutable event buffer",
        ["Sentinel.Events.MovePagesEvent.Reset"] = "event mutation",
        ["Sentinel.Events.MovePagesEvent.CopyTo"] = "event mutation",
        ["Sentinel.Events.MovePagesEvent.ComputeToctou"] = "event mutation",
        ["Sentinel.Events.MovePagesEvent.Clone"] = "the engine snapshots events for detections",
        ["Sentinel.Events.EventEnrichment.AncestryBuffer"] = "mutable event buffer",
        ["Sentinel.Events.EventEnrichment.Reset"] = "event mutation",
        ["Sentinel.Events.EventEnrichment.CopyTo"] = "event mutation",
        ["Sentinel.Rules.Rule.Match"] = "only the engine calls Match",
        ["Sentinel.Rules.Rule.Configure"] = "only the engine calls Configure",
    };

    /// <summary>Constructors that take a size: a rule could ask for gigabytes in one call.</summary>
    private static readonly HashSet<string> SizedConstructorTypes = new(StringComparer.Ordinal)
    {
        "System.String", "System.Collections.Generic.List`1", "System.Collections.Generic.Dictionary`2",
        "System.Collections.Generic.HashSet`1", "System.Collections.Generic.Queue`1",
        "System.Collections.Generic.Stack`1",
    };

    public static string MetadataName(ITypeSymbol type) =>
        type.ContainingType is { } outer
            ? MetadataName(outer) + "+" + type.MetadataName
            : type.ContainingNamespace is { IsGlobalNamespace: false } ns
                ? ns.ToDisplayString() + "." + type.MetadataName
                : type.MetadataName;

    /// <summary>Why <paramref name="type"/> is not allowed, or null if it is.</summary>
    public static string? CheckType(ITypeSymbol type, IAssemblySymbol ruleAssembly)
    {
        switch (type)
        {
            case IArrayTypeSymbol array:
                return CheckType(array.ElementType, ruleAssembly);
            case IPointerTypeSymbol or IFunctionPointerTypeSymbol:
                return "pointers are not allowed (unsafe code)";
            case IDynamicTypeSymbol:
                return "dynamic is not allowed (late binding escapes the sandbox)";
            case ITypeParameterSymbol or IErrorTypeSymbol:
                return null;
            case INamedTypeSymbol named:
                if (SymbolEqualityComparer.Default.Equals(named.ContainingAssembly, ruleAssembly)) return null;
                foreach (var argument in named.TypeArguments)
                    if (CheckType(argument, ruleAssembly) is { } reason) return reason;
                var definition = named.OriginalDefinition;
                // Nested types of allowed types (List<T>.Enumerator, Dictionary<K,V>.KeyCollection) come with them.
                if (definition.ContainingType is { } container) return CheckType(container, ruleAssembly);
                var name = MetadataName(definition);
                return AllowedTypes.Contains(name) || AllowedTypePrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal))
                    ? null
                    : $"type {name} is not in the rule allowlist{Category(name)}";
            default:
                return null;
        }
    }

    /// <summary>Why a member of an allowed (or rule-defined) type may not be used, or null.</summary>
    public static string? CheckMember(ISymbol member, IAssemblySymbol ruleAssembly)
    {
        if (SymbolEqualityComparer.Default.Equals(member.ContainingAssembly, ruleAssembly))
            return null;
        if (member.ContainingType is not { } type) return null;
        if (CheckType(type, ruleAssembly) is { } reason) return reason;
        var typeName = MetadataName(type.OriginalDefinition);
        var key = typeName + "." + member.Name;
        if (DeniedMembers.TryGetValue(key, out var why))
            return $"{typeName}.{member.Name} is not allowed ({why})";
        if (member is IMethodSymbol { MethodKind: MethodKind.Constructor } ctor && SizedConstructorTypes.Contains(typeName)
            && ctor.Parameters.Any(p => p.Type.SpecialType is SpecialType.System_Int32))
            return $"the sized constructor of {typeName} is not allowed (unbounded allocation)";
        if (member is IMethodSymbol { ReducedFrom: { } extension })
            return CheckMember(extension, ruleAssembly);
        return null;
    }

    private static string Category(string name) => name switch
    {
        _ when name.StartsWith("System.IO.", StringComparison.Ordinal) => " (file system IO)",
        _ when name.StartsWith("System.Net.", StringComparison.Ordinal) => " (network)",
        _ when name.StartsWith("System.Diagnostics.", StringComparison.Ordinal) => " (process and diagnostics)",
        _ when name.StartsWith("System.Reflection.", StringComparison.Ordinal) || name is "System.Type" or "System.Activator"
            => " (reflection)",
        _ when name.StartsWith("System.Runtime.InteropServices.", StringComparison.Ordinal) => " (interop)",
        _ when name.StartsWith("System.Threading.", StringComparison.Ordinal) => " (threads and tasks)",
        "System.Environment" or "System.AppDomain" or "System.AppContext" or "System.GC" or "System.Console"
            => " (process-wide state)",
        _ => "",
    };
}
