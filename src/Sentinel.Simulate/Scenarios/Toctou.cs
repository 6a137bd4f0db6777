using System.Runtime.InteropServices;

namespace Sentinel.Simulate.Scenarios;

/// <summary>
/// A racing writer thread flips pages[] while the kernel walks a large array, so what the probe read at entry
/// differs from what it reads at exit.
/// </summary>
internal sealed unsafe class Toctou : Scenario
{
    /// <summary>Entries per call: long enough (tens of ms) for the writer to run during it.</summary>
    private const int Entries = 1 << 18;
    /// <summary>The entries the writer rewrites: the probe copies the first 16.</summary>
    private const int Rewritten = 16;
    /// <summary>
    /// The writer cycles each entry through this many pages, so an entry is back to its entry value at exit only
    /// if exactly a multiple of this many rewrites happened (flipping between two values would undo itself half
    /// the time).
    /// </summary>
    private const int Pages = 1024;
    /// <summary>
    /// Sweeps counted around a call can also fall just before its entry or after its exit when the caller waits for
    /// a core, so a call counted as raced may not be; four of them make a missed race unlikely on a loaded machine.
    /// </summary>
    private const int RacedCallsWanted = 4, MaxCalls = 40;

    public override string Name => "toctou";
    public override string? RuleId => RuleIds.Toctou;
    public override string Description =>
        $"a writer thread rewrites pages[0..{Rewritten - 1}] during self move_pages calls of {Entries} entries";

    public override ScenarioResult Run(SimulationContext context)
    {
        using var mapping = new Syscalls.Mapping(Pages);
        var first = (ulong)mapping.Address;
        var page = (ulong)Syscalls.PageSize;
        var pages = (ulong*)NativeMemory.Alloc(Entries, sizeof(ulong));
        var nodes = (int*)NativeMemory.Alloc(Entries, sizeof(int));
        var status = (int*)NativeMemory.Alloc(Entries, sizeof(int));
        long sweeps = 0;
        var stop = 0;
        var result = new ScenarioResult
        {
            Scenario = Name, ExpectedRules = ExpectedRules,
            CallerPid = Environment.ProcessId, TargetPid = Environment.ProcessId, PidArgument = 0,
        };
        Thread? writer = null;
        try
        {
            for (var i = 0; i < Entries; i++)
            {
                pages[i] = first; // every entry names a resident page, already on node 0
                nodes[i] = 0;
            }
            writer = new Thread(() =>
            {
                for (ulong n = 1; Volatile.Read(ref stop) == 0; n++)
                {
                    for (var i = 0; i < Rewritten; i++) Volatile.Write(ref pages[i], first + (n + (ulong)i) % Pages * page);
                    Interlocked.Increment(ref sweeps);
                }
            }) { IsBackground = true, Name = "toctou-writer" };
            writer.Start();
            while (Interlocked.Read(ref sweeps) == 0) Thread.Yield();

            // On a busy machine the writer may not get a CPU during a call: count only calls it raced.
            var raced = 0;
            for (var call = 0; call < MaxCalls && raced < RacedCallsWanted; call++)
            {
                var before = Interlocked.Read(ref sweeps);
                var ret = Syscalls.MovePages(0, Entries, pages, nodes, status, flags: 2);
                if (Interlocked.Read(ref sweeps) - before >= 2) raced++;
                result.Results.Add(ret < 0 ? Events.Errno.Name((int)-ret) : $"ret={ret}");
            }
            if (raced == 0) throw new SimulationException($"the writer thread never ran during any of {MaxCalls} calls");
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            writer?.Join();
            NativeMemory.Free(pages);
            NativeMemory.Free(nodes);
            NativeMemory.Free(status);
        }
        return result;
    }
}
