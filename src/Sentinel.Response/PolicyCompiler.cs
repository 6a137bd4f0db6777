using System.Text;
using Sentinel.Events;

namespace Sentinel.Response;

/// <summary>One kernel policy of one rule, ready to compile.</summary>
public sealed record InstalledPolicy(string RuleId, KernelPolicy When, ResponseAction Action);

/// <summary>Turns kernel policies into the BPF map entries of bpf/response.h. Pure: no kernel needed.</summary>
internal static class PolicyCompiler
{
    public static unsafe PolicyEntry Compile(KernelPolicy p, ResponseAction action, uint rule)
    {
        var e = new PolicyEntry { Action = (uint)action.Kind, Signal = (uint)action.SignalNumber, Rule = rule };
        if (p.Flags is { } flags) (e.Fields, e.FlagsAll) = (e.Fields | PolicyFields.Flags, (uint)flags);
        if (p.Target != CallTarget.Any) (e.Fields, e.Target) = (e.Fields | PolicyFields.Target, (uint)p.Target);
        if (p.MinCount is { } min) (e.Fields, e.MinCount) = (e.Fields | PolicyFields.MinCount, min);
        if (p.Uid is { } uid) (e.Fields, e.Uid) = (e.Fields | PolicyFields.Uid, uid);
        if (p.Euid is { } euid) (e.Fields, e.Euid) = (e.Fields | PolicyFields.Euid, euid);
        if (p.Lacks is { } lacks && p.Has is not null)
            throw new ArgumentException("a policy may set Lacks or Has, not both");
        if (p.Lacks is { } l) (e.Fields, e.Caps) = (e.Fields | PolicyFields.CapsLacking, 1UL << (int)l);
        if (p.Has is { } h) (e.Fields, e.Caps) = (e.Fields | PolicyFields.CapsHaving, 1UL << (int)h);
        if (p.Namespace != CallerNamespace.Any) (e.Fields, e.Namespace) = (e.Fields | PolicyFields.Namespace, (uint)p.Namespace);
        if (p.Compat == true) e.Fields |= PolicyFields.Compat;
        if (p.Comm is { } comm)
        {
            var bytes = Encoding.UTF8.GetBytes(comm);
            if (bytes.Length is 0 or > 15) throw new ArgumentException($"comm '{comm}' must be 1 to 15 bytes (the kernel's TASK_COMM_LEN - 1)");
            e.Fields |= PolicyFields.Comm;
            for (var i = 0; i < bytes.Length; i++) e.Comm[i] = bytes[i];
        }
        return e;
    }

    /// <summary>A whole set for one of the two policy slots; throws if there are more policies than the kernel holds.</summary>
    public static unsafe PolicySet CompileSet(IReadOnlyList<PolicyEntry> entries, uint generation)
    {
        if (entries.Count > PolicySet.MaxPolicies)
            throw new ArgumentException($"{entries.Count} kernel policies; the kernel side holds at most {PolicySet.MaxPolicies}");
        var set = new PolicySet { Count = (uint)entries.Count, Generation = generation };
        var dst = new Span<PolicyEntry>(set.Policies, PolicySet.MaxPolicies);
        for (var i = 0; i < entries.Count; i++) dst[i] = entries[i];
        return set;
    }
}
