using System.Runtime.InteropServices;
using System.Text;
using Sentinel.Probes;

namespace Sentinel.Probes.Tests;

/// <summary>Crafts ring-buffer records byte for byte, as the BPF program would write them.</summary>
internal static unsafe class RecordBuilder
{
    public static RawMovePagesEvent Valid(string comm = "victim", int copied = 3)
    {
        var raw = new RawMovePagesEvent
        {
            Magic = ProbeHeader.RecordMagic,
            Size = (uint)sizeof(RawMovePagesEvent),
            ExitNs = 1_500,
            Call =
            {
                EnterNs = 1_000,
                Count = (ulong)copied,
                Pages = 0x7fff_0000_1000,
                Nodes = 0,
                Status = 0x7fff_0000_2000,
                TargetPid = 0,
                Flags = 2,
                Compat = 0,
                Copied = (byte)copied,
                Copies = 0b10101, // pages at entry and exit, status
            },
            CapEffective = 1UL << 23,
            MntNs = 4026531841,
            PidNs = 4026531836,
            CgroupId = 77,
            Ret = 0,
            Pid = 4242, Tid = 4243, Ppid = 1,
            Uid = 1000, Euid = 1000, Gid = 1000,
            Cpu = 1,
            FoldCount = 1,
            FoldFirstNs = 1_500,
            FoldLastNs = 1_500,
        };
        var name = Encoding.UTF8.GetBytes(comm);
        for (var i = 0; i < name.Length && i < ProbeHeader.CommLen; i++) raw.Comm[i] = name[i];
        for (var i = 0; i < copied; i++)
        {
            raw.Call.PagesAtEntry[i] = raw.PagesAtExit[i] = 0x7f00_0000_0000UL + (ulong)i * 4096;
            raw.StatusAtExit[i] = 0;
        }
        return raw;
    }

    public static byte[] Bytes(RawMovePagesEvent raw) =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<RawMovePagesEvent>(ref raw)).ToArray();
}
