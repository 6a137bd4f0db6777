using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Sentinel.Events;

namespace Sentinel.Benchmarks.Capture;

/// <summary>
/// <c>event-pool [N] [ROUNDS]</c>: the pool as the agent uses it, one thread renting (the decoder) and another
/// returning (the pipeline), with the events handed over through a bounded channel like the pipeline's. Per
/// event: wall ns, CPU ns of both threads, and bytes allocated by the whole process, for EventPool against the
/// ConcurrentBag pool it replaced (kept here only as the baseline), alternating round by round.
/// </summary>
internal static class EventPoolHandOff
{
    /// <summary>The previous pool, verbatim in behaviour: a ConcurrentBag with its Count as the bound.</summary>
    private sealed class BagPool(int maxRetained = 4096)
    {
        private readonly ConcurrentBag<MovePagesEvent> _free = new();
        public MovePagesEvent Rent() => _free.TryTake(out var evt) ? evt : new MovePagesEvent();
        public void Return(MovePagesEvent evt)
        {
            if (_free.Count >= maxRetained) return;
            evt.Reset();
            _free.Add(evt);
        }
    }

    public static int Run(string[] args)
    {
        var n = args.Length > 0 ? int.Parse(args[0]) : 1_000_000;
        var rounds = args.Length > 1 ? int.Parse(args[1]) : 5;
        var pool = new EventPool();
        var bag = new BagPool();
        for (var round = 0; round <= rounds; round++)
        {
            var now = Measure(n, pool.Rent, pool.Return);
            var before = Measure(n, bag.Rent, bag.Return);
            if (round == 0) continue; // warm-up: tiering and the pools' first fill
            Console.WriteLine($"round {round}: EventPool {now}; ConcurrentBag pool {before}");
        }
        return 0;
    }

    private readonly record struct Result(double WallNs, double CpuNs, double Bytes)
    {
        public override string ToString() => $"wall {WallNs:F0} ns, cpu {CpuNs:F0} ns, {Bytes:F2} B per event";
    }

    private static Result Measure(int n, Func<MovePagesEvent> rent, Action<MovePagesEvent> @return)
    {
        var channel = Channel.CreateBounded<MovePagesEvent>(new BoundedChannelOptions(1024)
        {
            FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true,
        });
        var bytes = GC.GetTotalAllocatedBytes(precise: true);
        var cpu = CpuClock.ProcessNs();
        var wall = Stopwatch.StartNew();
        var producer = Task.Run(async () =>
        {
            for (var i = 0; i < n; i++)
            {
                var evt = rent();
                evt.Pid = i;
                if (!channel.Writer.TryWrite(evt)) await channel.Writer.WriteAsync(evt);
            }
            channel.Writer.Complete();
        });
        var consumer = Task.Run(async () =>
        {
            var reader = channel.Reader;
            while (await reader.WaitToReadAsync())
                while (reader.TryRead(out var evt)) @return(evt);
        });
        Task.WaitAll(producer, consumer);
        return new Result(wall.Elapsed.TotalNanoseconds / n, (CpuClock.ProcessNs() - cpu) / (double)n,
            (GC.GetTotalAllocatedBytes(precise: true) - bytes) / (double)n);
    }
}
