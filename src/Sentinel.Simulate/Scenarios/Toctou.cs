using System.Runtime.InteropServices;

namespace Sentinel.Simulate.Scenarios;

/// <summary>
/// A racing writer thread flips pages[] while the kernel walks a large array, so what the probe read at entry
/// differs from what it reads at exit.
/// </summary>
internal sealed unsafe class Toctou : Scenario
{
    /// <summary>Entries per call: long enough (hundreds of ms) that the writer always runs during it.</summary>
    private const int Entries = 1 << 18;
    private const int Calls = 2;
    /// <summary>The entries the writer flips: the probe copies the first 16.</summary>
    private const int Flipped = 16;

    public override string Name => "toctou";
    public override string? RuleId => RuleIds.Toctou;
    public override string Description => $"a writer thread flips pages[0..{Flipped - 1}] during self move_pages calls of {Entries} entries";

    public override ScenarioResult Run(SimulationContext context)
    {
        using var mapping = new Syscalls.Mapping(2);
        var a = (ulong)mapping.Address;
        var b = a + (ulong)Syscalls.PageSize;
        var pages = (ulong*)NativeMemory.Alloc(Entries, sizeof(ulong));
        var nodes = (int*)NativeMemory.Alloc(Entries, sizeof(int));
        var status = (int*)NativeMemory.Alloc(Entries, sizeof(int));
        var stop = 0;
        var result = new ScenarioResult
        {
            Scenario = Name, ExpectedRules = ExpectedRules,
            CallerPid = Environment.ProcessId, TargetPid = Environment.ProcessId, PidArgument = 0,
        };
        try
        {
            for (var i = 0; i < Entries; i++)
            {
                pages[i] = a; // every entry names a resident page, already on node 0
                nodes[i] = 0;
            }
            var writer = new Thread(() =>
            {
                while (Volatile.Read(ref stop) == 0)
                    for (var i = 0; i < Flipped; i++)
                        Volatile.Write(ref pages[i], pages[i] == a ? b : a);
            }) { IsBackground = true, Name = "toctou-writer" };
            writer.Start();
            for (var call = 0; call < Calls; call++)
            {
                var ret = Syscalls.MovePages(0, Entries, pages, nodes, status, flags: 2);
                result.Results.Add(ret < 0 ? Events.Errno.Name((int)-ret) : $"ret={ret}");
            }
            Volatile.Write(ref stop, 1);
            writer.Join();
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            NativeMemory.Free(pages);
            NativeMemory.Free(nodes);
            NativeMemory.Free(status);
        }
        return result;
    }
}
