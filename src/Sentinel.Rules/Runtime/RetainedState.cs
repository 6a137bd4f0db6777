using System.Reflection;
using System.Runtime.CompilerServices;

namespace Sentinel.Rules.Runtime;

/// <summary>
/// Estimates the bytes a rule keeps between events: everything reachable from its instance and from the
/// static fields of its own types. The walk stops as soon as it passes the limit, so it costs at most the
/// limit's worth of objects; the engine runs it only after a rule has allocated a few megabytes since the
/// last walk, or every million evaluations.
/// </summary>
internal static class RetainedState
{
    // Weakly keyed: a cache entry must not keep an unloaded rule's types alive.
    private static readonly ConditionalWeakTable<Type, FieldInfo[]> InstanceFields = new();

    /// <summary>The retained bytes, or a value above <paramref name="limit"/> once it is passed.</summary>
    public static long Measure(object rule, IReadOnlyList<FieldInfo> statics, long limit)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<object>();
        long total = 0;
        pending.Push(rule);
        foreach (var field in statics)
            if (field.GetValue(null) is { } value) pending.Push(value);

        while (pending.Count > 0 && total <= limit)
        {
            var item = pending.Pop();
            if (!item.GetType().IsValueType && !seen.Add(item)) continue;
            switch (item)
            {
                case string s:
                    total += 22 + 2L * s.Length;
                    continue;
                case MemberInfo or Assembly or Module or Delegate { Target: null }:
                    continue;
                case Delegate d:
                    pending.Push(d.Target!);
                    continue;
                case Array array:
                    total += 24 + (array.GetType().GetElementType() is { IsPrimitive: true } || array.Length == 0
                        ? Buffer.ByteLength(array.GetType().GetElementType()!.IsPrimitive ? array : Array.Empty<byte>())
                        : 8L * array.LongLength);
                    if (array.GetType().GetElementType() is { IsPrimitive: false } && array.Rank == 1)
                        foreach (var element in array)
                            if (element is not null) pending.Push(element);
                    continue;
            }
            var type = item.GetType();
            total += type.IsValueType ? 0 : 24;
            foreach (var field in Fields(type))
            {
                if (field.FieldType.IsPrimitive || field.FieldType.IsPointer || field.FieldType.IsEnum) { total += 8; continue; }
                total += 8;
                if (field.GetValue(item) is { } value) pending.Push(value);
            }
        }
        return total;
    }

    /// <summary>The static fields of the rule's own types, read where they are declared.</summary>
    public static IReadOnlyList<FieldInfo> StaticFields(Assembly assembly) =>
        [.. assembly.GetTypes()
            .Where(t => !t.ContainsGenericParameters)
            .SelectMany(t => t.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(f => !f.IsLiteral && !f.FieldType.IsPrimitive && !f.FieldType.IsEnum)];

    private static FieldInfo[] Fields(Type type) => InstanceFields.GetValue(type, static t =>
    {
        var fields = new List<FieldInfo>();
        for (var current = t; current is not null; current = current.BaseType)
            fields.AddRange(current.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly));
        return [.. fields];
    });
}
