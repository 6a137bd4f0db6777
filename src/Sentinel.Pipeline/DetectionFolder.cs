using System.Diagnostics;
using Sentinel.Events;

namespace Sentinel.Pipeline;

/// <summary>
/// Alert folding for rules that declare <see cref="RuleInfo.FoldKey"/>. The first detection of a (rule, key) goes
/// out at once and opens a window of <see cref="RuleInfo.FoldWindow"/> from its event time. Repeats inside the
/// window are held and counted. When the window closes, one summary goes out: the last repeat, with
/// <see cref="Detection.FoldCount"/> = the number of repeats and their first and last times. So the fold counts
/// of a rule's detections add up to its firings, and a repeat waits at most one window (plus a tick).
/// </summary>
/// <remarks>
/// Time is the event clock (the newest event time seen), advanced by the wall clock while no events arrive, so a
/// replay folds exactly as the live run did and an idle agent still closes its windows. Not thread-safe: the
/// pipeline calls it from its one thread.
/// </remarks>
public sealed class DetectionFolder(Action<Detection> emit)
{
    /// <summary>Beyond this many open folds a new key is not folded (memory stays bounded; nothing is lost).</summary>
    public const int MaxOpenFolds = 10_000;

    private readonly Dictionary<(string Rule, string Key), Fold> _open = new();
    private long _clockNs;
    private long _clockSetAt;
    private long _nextCloseNs = long.MaxValue;

    public int OpenFolds => _open.Count;
    /// <summary>Repeats held so far (each is counted in exactly one later summary).</summary>
    public long Folded { get; private set; }

    /// <summary>Moves the event clock; closes the windows it passes. Cheap when nothing is open.</summary>
    public void Advance(long eventTimeNs)
    {
        if (_open.Count == 0) return;
        if (eventTimeNs > _clockNs)
        {
            _clockNs = eventTimeNs;
            _clockSetAt = Stopwatch.GetTimestamp();
        }
        if (_clockNs >= _nextCloseNs) CloseExpired(_clockNs);
    }

    /// <summary>Closes the windows that ended while no event moved the clock.</summary>
    public void Tick()
    {
        if (_open.Count == 0) return;
        var now = _clockNs + (long)Stopwatch.GetElapsedTime(_clockSetAt).TotalNanoseconds;
        if (now >= _nextCloseNs) CloseExpired(now);
    }

    /// <summary>True: deliver <paramref name="d"/> now. False: it was folded into an open window.</summary>
    public bool Admit(Detection d)
    {
        var timeNs = d.Event.TimeUnixNs;
        Advance(timeNs);
        var key = (d.Rule.Id, AlertFolding.KeyOf(d));
        if (_open.TryGetValue(key, out var fold))
        {
            fold.Hold(d);
            Folded++;
            return false;
        }
        if (_open.Count >= MaxOpenFolds) return true;
        if (_open.Count == 0 || timeNs > _clockNs)
        {
            _clockNs = Math.Max(_clockNs, timeNs);
            _clockSetAt = Stopwatch.GetTimestamp();
        }
        var end = timeNs + (long)d.Rule.FoldWindow.TotalNanoseconds;
        _open[key] = new Fold(end);
        _nextCloseNs = Math.Min(_nextCloseNs, end);
        return true;
    }

    /// <summary>Closes every window (shutdown, end of a replay): nothing held is lost.</summary>
    public void CloseAll() => CloseExpired(long.MaxValue);

    private void CloseExpired(long nowNs)
    {
        List<(string, string)>? closed = null;
        var next = long.MaxValue;
        foreach (var (key, fold) in _open)
        {
            if (fold.EndNs <= nowNs) (closed ??= []).Add(key);
            else next = Math.Min(next, fold.EndNs);
        }
        _nextCloseNs = next;
        if (closed is null) return;
        // Summaries in the order their windows closed, so the output stays time-ordered.
        closed.Sort((a, b) => _open[a].EndNs.CompareTo(_open[b].EndNs));
        foreach (var key in closed)
        {
            var fold = _open[key];
            _open.Remove(key);
            if (fold.Summary() is { } summary) emit(summary);
        }
    }

    private sealed class Fold(long endNs)
    {
        private Detection? _last;
        private DateTimeOffset _first;
        private uint _repeats;

        public long EndNs { get; } = endNs;

        public void Hold(Detection d)
        {
            if (_repeats++ == 0) _first = d.Time;
            _last = d;
        }

        public Detection? Summary() =>
            _last is null ? null : _last with { FoldCount = _repeats, FirstTime = _first, LastTime = _last.Time };
    }
}
