using System.Runtime.InteropServices;
using Sentinel.ProcessTree;
using Sentinel.TestSupport;

namespace Sentinel.ProcessTree.Tests;

/// <summary>ProcTreeRecord must mirror struct snt_proc_event byte for byte: compile the header and compare.</summary>
public class RecordLayoutTests
{
    private static readonly string[] Fields =
    [
        "magic", "kind", "time_ns", "start_ns", "parent_start_ns", "mnt_ns", "pid_ns", "cgroup_id", "pid", "ppid",
        "uid", "euid", "gid", "exit_code", "flags", "args_len", "comm", "filename", "args",
    ];

    private static readonly string[] Mirror =
    [
        nameof(ProcTreeRecord.RecordMagic), nameof(ProcTreeRecord.Kind), nameof(ProcTreeRecord.TimeNs),
        nameof(ProcTreeRecord.StartNs), nameof(ProcTreeRecord.ParentStartNs), nameof(ProcTreeRecord.MountNamespace),
        nameof(ProcTreeRecord.PidNamespace), nameof(ProcTreeRecord.CgroupId), nameof(ProcTreeRecord.Pid),
        nameof(ProcTreeRecord.ParentPid), nameof(ProcTreeRecord.Uid), nameof(ProcTreeRecord.Euid), nameof(ProcTreeRecord.Gid),
        nameof(ProcTreeRecord.ExitCode), nameof(ProcTreeRecord.Flags), nameof(ProcTreeRecord.ArgsUsed),
        nameof(ProcTreeRecord.Comm), nameof(ProcTreeRecord.FileName), nameof(ProcTreeRecord.Args),
    ];

    [Fact]
    public unsafe void Matches_the_C_header()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-layout").FullName;
        var source = Path.Combine(dir, "layout.c");
        var prints = string.Join("\n", Fields.Select(f => $"  printf(\"%zu\\n\", offsetof(struct snt_proc_event, {f}));"));
        File.WriteAllText(source, $$"""
            #include <stddef.h>
            #include <stdio.h>
            #include <linux/types.h>
            #include "proctree.h"
            int main(void) {
              printf("%zu\n", sizeof(struct snt_proc_event));
            {{prints}}
              return 0;
            }
            """);
        var exe = Path.Combine(dir, "layout");
        ChildProcess.RunChecked("gcc", $"-I{RepoPaths.Bpf}", "-o", exe, source);
        var lines = ChildProcess.RunChecked(exe).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();

        Assert.Equal(lines[0], sizeof(ProcTreeRecord));
        for (var i = 0; i < Mirror.Length; i++)
            Assert.True(lines[i + 1] == (int)Marshal.OffsetOf<ProcTreeRecord>(Mirror[i]),
                $"{Fields[i]}: C offset {lines[i + 1]}, C# {Marshal.OffsetOf<ProcTreeRecord>(Mirror[i])}");
        Directory.Delete(dir, true);
    }
}
