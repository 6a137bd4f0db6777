using Sentinel.Events;
using Sentinel.ProcessTree;
using static Sentinel.ProcessTree.ProcTreeHeader;

namespace Sentinel.ProcessTree.Tests;

/// <summary>Trees over a synthetic world: an empty procfs, so nothing leaks in from the machine running the test.</summary>
internal static class TestTrees
{
    public const ulong HostMnt = 4026531841, HostPid = 4026531836;
    public const ulong Sec = 1_000_000_000;
    public static readonly string EmptyProc = Directory.CreateTempSubdirectory("sentinel-noproc").FullName;

    public static ProcessTree Create(int capacity = 1024, int depth = 4, TimeSpan? grace = null) => new(new ProcessTreeOptions
    {
        Capacity = capacity,
        AncestryDepth = depth,
        ExitGracePeriod = grace ?? TimeSpan.FromSeconds(10),
        ProcRoot = EmptyProc,
        HostMountNamespace = HostMnt,
        HostPidNamespace = HostPid,
    });

    public static ProcessInfo Proc(int pid, ulong startSec, string comm = "proc", int ppid = 0, ulong parentStartSec = 0,
        uint uid = 1000, uint euid = 1000, string container = "", ulong mnt = HostMnt, ulong pidNs = HostPid, bool setuid = false) => new()
    {
        Pid = pid,
        StartTimeNs = startSec * Sec,
        ParentPid = ppid,
        ParentStartTimeNs = parentStartSec * Sec,
        Comm = comm,
        ExePath = "/usr/bin/" + comm,
        Uid = uid, Euid = euid, Gid = uid,
        IsSetuid = setuid,
        MountNamespace = mnt,
        PidNamespace = pidNs,
        ContainerId = container,
        CgroupPath = container.Length > 0 ? $"/system.slice/docker-{container}.scope" : "/user.slice",
    };

    /// <summary>An event at <paramref name="atSec"/> on the boot clock, from <paramref name="caller"/>'s credentials.</summary>
    public static MovePagesEvent Event(ProcessInfo caller, int targetPid, ulong atSec, ulong? mnt = null, ulong? pidNs = null)
    {
        var evt = new MovePagesEvent
        {
            Pid = caller.Pid, Tid = caller.Pid, Uid = caller.Uid, Euid = caller.Euid, Gid = caller.Gid,
            MountNamespace = mnt ?? caller.MountNamespace, PidNamespace = pidNs ?? caller.PidNamespace,
            TargetPid = targetPid, Comm = caller.Comm,
        };
        evt.TimeUnixNs = UnixAt(atSec);
        return evt;
    }

    public static long UnixAt(ulong bootSec) => (long)(bootSec * Sec) + BootClock.UnixOffsetNs;

    public static ProcTreeRecord Record(ProcKind kind, int pid, ulong startNs, int ppid = 1, ulong parentStartNs = Sec,
        string comm = "child", string file = "", string args = "", ulong timeNs = 0, uint uid = 1000, ProcFlags flags = 0)
    {
        var r = new ProcTreeRecord
        {
            Magic = ProcMagic, Kind = (uint)kind, Pid = (uint)pid, StartNs = startNs, Ppid = (uint)ppid,
            ParentStartNs = parentStartNs, TimeNs = timeNs, Uid = uid, Euid = uid, Gid = uid, Flags = (uint)flags,
            MntNs = HostMnt, PidNs = HostPid,
        };
        unsafe
        {
            var c = System.Text.Encoding.UTF8.GetBytes(comm);
            for (var i = 0; i < c.Length && i < 15; i++) r.Comm[i] = c[i];
            var f = System.Text.Encoding.UTF8.GetBytes(file);
            for (var i = 0; i < f.Length && i < 255; i++) r.Filename[i] = f[i];
            var a = System.Text.Encoding.UTF8.GetBytes(args);
            for (var i = 0; i < a.Length && i < ProcArgsLen; i++) r.Args[i] = a[i];
            r.ArgsLen = (uint)Math.Min(a.Length, ProcArgsLen);
        }
        return r;
    }
}
