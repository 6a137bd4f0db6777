using Sentinel.Events;
using Sentinel.Rules;

namespace Sentinel.Benchmarks.Rules;

/// <summary>
/// The baseline: the logic of the eight built-in rules written as one plain C# detector, with no engine,
/// sandbox, budget or counters. The benchmark's ratio is the engine's cost against this.
/// </summary>
internal sealed class HandWrittenPack(HostInfo host) : IDetector
{
    private static readonly RuleInfo Info = new() { Id = "SNT-0000", Version = "1", Name = "hand-written" };
    private readonly SlidingWindow<int> _failures = new(5, TimeSpan.FromSeconds(10));

    public void Evaluate(MovePagesEvent e, IDetectionSink sink)
    {
        if (!e.IsSelf) Fire(e, sink, "cross-process");
        if (e.HasFlag(MoveFlags.MoveAll) && !e.HasCapability(Capability.SysNice)) Fire(e, sink, "move-all");
        if (e.IsQueryMode && !e.IsSelf)
        {
            var target = e.Enrichment.Target;
            var setuid = target is not null && (target.IsSetuid || target.Uid != target.Euid);
            var otherUser = e.Enrichment.IsCrossUser || target is not null && target.Uid != e.Uid;
            if (setuid || otherUser) Fire(e, sink, "query");
        }
        if (e.HasToctouEvidence) Fire(e, sink, "toctou");
        if ((e.Errno == Errno.EPERM || e.Errno == Errno.ESRCH) && _failures.Record(e.Pid, e.TimeUnixNs)) Fire(e, sink, "burst");
        var en = e.Enrichment;
        var inContainer = en.Enriched
            ? !en.CallerInHostNamespaces || (en.Caller?.ContainerId ?? "").Length > 0
            : host.NamespacesKnown && e.MountNamespace != 0
              && (e.MountNamespace != host.MountNamespace || e.PidNamespace != host.PidNamespace);
        if (inContainer) Fire(e, sink, "container");
        if (e.Compat && host.Is64Bit) Fire(e, sink, "compat");
        var limit = host.NumaNodes > 0 ? host.NumaNodes : 1024;
        if (e.NodesAtEntry.IndexOfAnyExceptInRange(0, limit - 1) >= 0 || e.Errno == Errno.ENODEV) Fire(e, sink, "node");
    }

    private static void Fire(MovePagesEvent e, IDetectionSink sink, string what) =>
        sink.OnDetection(new Detection { Rule = Info, Time = e.Time, Message = what, Event = e.Clone() });
}
