using System.Text;
using Sentinel.Events;
using static Sentinel.Response.ResponseHeader;

namespace Sentinel.Response;

/// <summary>One kernel policy of one rule, ready to compile.</summary>
public sealed record InstalledPolicy(string RuleId, KernelPolicy When, ResponseAction Action);

/// <summary>Turns kernel policies into the BPF map entries of bpf/response.h. Pure: no kernel needed.</summary>
internal static class PolicyCompiler
{
    public static unsafe PolicyEntry Compile(KernelPolicy p, ResponseAction action, uint rule)
    {
        var e = new PolicyEntry { Action = (uint)action.Kind, Signal = (uint)action.SignalNumber, Rule = rule };
        var fields = (PolicyField)0;
        if (p.Flags is { } flags) (fields, e.FlagsAll) = (fields | PolicyField.Flags, (uint)flags);
        if (p.Target != CallTarget.Any) (fields, e.Target) = (fields | PolicyField.Target, (uint)p.Target);
        if (p.MinCount is { } min) (fields, e.MinCount) = (fields | PolicyField.MinCount, min);
        if (p.Uid is { } uid) (fields, e.Uid) = (fields | PolicyField.Uid, uid);
        if (p.Euid is { } euid) (fields, e.Euid) = (fields | PolicyField.Euid, euid);
        if (p.Lacks is { } lacks && p.Has is not null)
            throw new ArgumentException("a policy may set Lacks or Has, not both");
        if (p.Lacks is { } l) (fields, e.Caps) = (fields | PolicyField.CapsLacking, 1UL << (int)l);
        if (p.Has is { } h) (fields, e.Caps) = (fields | PolicyField.CapsHaving, 1UL << (int)h);
        if (p.Namespace != CallerNamespace.Any) (fields, e.Ns) = (fields | PolicyField.Namespace, (uint)p.Namespace);
        if (p.Compat == true) fields |= PolicyField.Compat;
        if (p.Comm is { } comm)
        {
            var bytes = Encoding.UTF8.GetBytes(comm);
            if (bytes.Length is 0 or > 15) throw new ArgumentException($"comm '{comm}' must be 1 to 15 bytes (the kernel's TASK_COMM_LEN - 1)");
            fields |= PolicyField.Comm;
            for (var i = 0; i < bytes.Length; i++) e.Comm[i] = bytes[i];
        }
        e.Fields = (uint)fields;
        return e;
    }

    /// <summary>A whole set for one of the two policy slots; throws if there are more policies than the kernel holds.</summary>
    public static PolicySet CompileSet(IReadOnlyList<PolicyEntry> entries, uint generation)
    {
        if (entries.Count > RespMaxPolicies)
            throw new ArgumentException($"{entries.Count} kernel policies; the kernel side holds at most {RespMaxPolicies}");
        var set = new PolicySet { Count = (uint)entries.Count, Generation = generation };
        for (var i = 0; i < entries.Count; i++) set.Policies[i] = entries[i];
        return set;
    }
}
