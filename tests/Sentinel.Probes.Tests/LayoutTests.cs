using System.Reflection;
using System.Runtime.InteropServices;
using Sentinel.Probes;
using Sentinel.TestSupport;

namespace Sentinel.Probes.Tests;

/// <summary>RawMovePagesEvent must match bpf/sentinel.h exactly; the C compiler is the judge.</summary>
public class LayoutTests
{
    private static readonly string[] Fields =
    [
        "magic:RecordMagic", "size:Size", "exit_ns:ExitNs", "call.enter_ns:EnterNs", "call.count:Count",
        "call.pages:Pages", "call.nodes:Nodes", "call.status:Status", "call.target_pid:TargetPid", "call.flags:Flags",
        "call.compat:Compat", "call.copied:Copied", "call.copies:Copies", "call.pad:CallPad",
        "call.pages_at_entry:PagesAtEntry", "call.nodes_at_entry:NodesAtEntry", "cap_effective:CapEffective",
        "mnt_ns:MountNamespace", "pid_ns:PidNamespace", "cgroup_id:CgroupId", "ret:Return",
        "fold_count:FoldCount", "fold_first_ns:FoldFirstNs", "fold_last_ns:FoldLastNs", "pid:Pid", "tid:Tid",
        "ppid:Ppid", "uid:Uid", "euid:Euid", "gid:Gid", "cpu:Cpu", "pad:Pad", "comm:Comm",
        "pages_at_exit:PagesAtExit", "nodes_at_exit:NodesAtExit", "status_at_exit:StatusAtExit",
    ];

    [Fact]
    public void Every_field_offset_and_the_size_match_the_c_header()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-layout");
        var source = Path.Combine(dir.FullName, "layout.c");
        var lines = Fields.Select(f => f.Split(':')[0])
            .Select(c => $"printf(\"{c} %zu\\n\", offsetof(struct snt_move_pages_event, {c}));");
        File.WriteAllText(source, "#include <stdio.h>\n#include <stddef.h>\n#include <linux/types.h>\n#include \"sentinel.h\"\n" +
                                  "int main(void) {\n" + string.Join("\n", lines) +
                                  "\nprintf(\"sizeof %zu\\n\", sizeof(struct snt_move_pages_event));\nreturn 0;\n}\n");
        var binary = Path.Combine(dir.FullName, "layout");
        ChildProcess.RunChecked("gcc", $"-I{RepoPaths.Bpf}", "-o", binary, source);
        var offsets = ChildProcess.RunChecked(binary).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).ToDictionary(p => p[0], p => int.Parse(p[1]));

        foreach (var field in Fields)
        {
            var (c, managed) = (field.Split(':')[0], field.Split(':')[1]);
            Assert.True(offsets[c] == (int)Marshal.OffsetOf<RawMovePagesEvent>(managed), $"{c} vs {managed}");
        }
        Assert.Equal(offsets["sizeof"], MovePagesDecoder.RecordSize);
        // Every managed field is listed, so a field added to the mirror without its C twin fails here too.
        Assert.Equal(typeof(RawMovePagesEvent).GetFields(BindingFlags.Public | BindingFlags.Instance).Length, Fields.Length);
    }
}
