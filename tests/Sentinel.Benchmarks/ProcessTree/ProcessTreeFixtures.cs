using System.Runtime.InteropServices;
using System.Text;
using Sentinel.ProcessTree;
using static Sentinel.ProcessTree.ProcTreeHeader;

namespace Sentinel.Benchmarks.ProcessTree;

/// <summary>Synthetic but realistic process records: a service forking workers that exec an interpreter.</summary>
internal static class ProcessTreeFixtures
{
    public const ulong HostMnt = 4026531841, HostPid = 4026531836;

    public static ProcessTreeOptions Options(int capacity = 32_768) => new()
    {
        Capacity = capacity,
        ProcRoot = Directory.CreateTempSubdirectory("sentinel-bench-noproc").FullName, // no /proc fallback
        HostMountNamespace = HostMnt,
        HostPidNamespace = HostPid,
        MaxProcLookupsPerSecond = 0,
    };

    public static unsafe ProcTreeRecord Record(ProcKind kind, int pid, ulong startNs, int ppid, ulong parentStartNs,
        string comm, string file = "", string args = "")
    {
        var r = new ProcTreeRecord
        {
            Magic = ProcMagic, Kind = (uint)kind, Pid = (uint)pid, StartNs = startNs, Ppid = (uint)ppid,
            ParentStartNs = parentStartNs, TimeNs = startNs + 1000, Uid = 1000, Euid = 1000, Gid = 1000,
            MntNs = HostMnt, PidNs = HostPid,
        };
        Encoding.UTF8.GetBytes(comm, new Span<byte>(r.Comm, ProcCommLen - 1));
        Encoding.UTF8.GetBytes(file, new Span<byte>(r.Filename, ProcPathLen - 1));
        var a = Encoding.UTF8.GetBytes(args);
        a.AsSpan(0, Math.Min(a.Length, ProcArgsLen)).CopyTo(new Span<byte>(r.Args, ProcArgsLen));
        r.ArgsLen = (uint)Math.Min(a.Length, ProcArgsLen);
        return r;
    }

    public static byte[] Bytes(in ProcTreeRecord record)
    {
        var bytes = new byte[Marshal.SizeOf<ProcTreeRecord>()];
        MemoryMarshal.Write(bytes, in record);
        return bytes;
    }

    /// <summary>init → sshd → bash → n workers, each forked and exec'd as python3 with its own argv.</summary>
    public static Sentinel.ProcessTree.ProcessTree BuildLiveTree(int workers, int capacity = 32_768)
    {
        var tree = new Sentinel.ProcessTree.ProcessTree(Options(capacity));
        const ulong sec = 1_000_000_000;
        tree.Apply(Record(ProcKind.Exec, 1, 1 * sec, 0, 0, "systemd", "/usr/lib/systemd/systemd", "/sbin/init\0"));
        tree.Apply(Record(ProcKind.Fork, 400, 2 * sec, 1, 1 * sec, "systemd"));
        tree.Apply(Record(ProcKind.Exec, 400, 2 * sec, 1, 1 * sec, "sshd", "/usr/sbin/sshd", "sshd: user [priv]\0"));
        tree.Apply(Record(ProcKind.Fork, 500, 3 * sec, 400, 2 * sec, "sshd"));
        tree.Apply(Record(ProcKind.Exec, 500, 3 * sec, 400, 2 * sec, "bash", "/usr/bin/bash", "-bash\0"));
        for (var i = 0; i < workers; i++)
        {
            var pid = 1000 + i;
            var start = 4 * sec + (ulong)i * 1_000_003;
            tree.Apply(Record(ProcKind.Fork, pid, start, 500, 3 * sec, "bash"));
            tree.Apply(Record(ProcKind.Exec, pid, start, 500, 3 * sec, "python3", "/usr/bin/python3.11",
                $"python3\0/srv/app/worker.py\0--id\0{i}\0--queue\0jobs\0"));
        }
        return tree;
    }
}
