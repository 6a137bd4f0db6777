using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using Xunit;

namespace Sentinel.TestSupport;

/// <summary>
/// Checks a generated mirror against its BPF header with the C compilers as the judges: gcc prints offsetof of every
/// field the mirror lists (its generated LayoutFields) and sizeof of the struct, and each must equal the C# layout;
/// clang's BTF names every member of the struct, and the list must name each of them, in order.
/// </summary>
public static class HeaderLayout
{
    public static void AssertMatchesC<T>(string header, string cStruct, IReadOnlyList<(string C, string CSharp)> fields)
        where T : unmanaged
    {
        var c = CompileAndPrint(header, cStruct, fields.Select(f => f.C));
        Assert.True(c["sizeof"] == Unsafe.SizeOf<T>(), $"sizeof(struct {cStruct}) is {c["sizeof"]}, {typeof(T).Name} is {Unsafe.SizeOf<T>()}");
        foreach (var (cPath, csPath) in fields)
        {
            var managed = OffsetOf(typeof(T), csPath);
            Assert.True(c[cPath] == managed, $"{cStruct}.{cPath} is at {c[cPath]} in C, {typeof(T).Name}.{csPath} at {managed}");
        }
        // A C member the generator left out (a trailing pad, say) may change no offset: BTF lists them all.
        Assert.Equal(BtfMembers(header, cStruct), fields.Select(f => f.C).Where(p => !p.Contains('.')));
        // A C# field the list leaves out would go unchecked: every one must be listed.
        var listed = fields.Select(f => f.CSharp).Where(p => !p.Contains('.')).ToHashSet();
        foreach (var field in typeof(T).GetFields(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
            Assert.True(listed.Contains(field.Name), $"{typeof(T).Name}.{field.Name} is not in its layout list");
    }

    /// <summary>The offset of a field path ("Call.EnterNs") from the start of the struct, as the runtime lays it out.</summary>
    public static int OffsetOf(Type type, string path)
    {
        var offset = 0;
        foreach (var name in path.Split('.'))
        {
            offset += (int)Marshal.OffsetOf(type, name);
            type = type.GetField(name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)!.FieldType;
        }
        return offset;
    }

    /// <summary>The members of a struct in declaration order, as clang describes them in BTF (read back by bpftool).</summary>
    public static IReadOnlyList<string> BtfMembers(string header, string cStruct)
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-btf").FullName;
        try
        {
            var source = Path.Combine(dir, "btf.c");
            File.WriteAllText(source, $"#include <linux/types.h>\n#include \"{header}\"\nstruct {cStruct} sentinel_layout_probe;\n");
            var obj = Path.Combine(dir, "btf.o");
            ChildProcess.RunChecked(RepoPaths.RequiredSystemTool("clang-14", "clang-14"), "-g", "-target", "bpf",
                "-I/usr/include/x86_64-linux-gnu", $"-I{RepoPaths.Bpf}", "-c", source, "-o", obj);
            using var btf = JsonDocument.Parse(ChildProcess.RunChecked(RepoPaths.RequiredSystemTool("bpftool", "bpftool"),
                "-j", "btf", "dump", "file", obj, "format", "raw"));
            var type = btf.RootElement.GetProperty("types").EnumerateArray()
                .Single(t => t.GetProperty("kind").GetString() == "STRUCT" && t.GetProperty("name").GetString() == cStruct);
            return type.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("name").GetString()!).ToList();
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static Dictionary<string, int> CompileAndPrint(string header, string cStruct, IEnumerable<string> paths)
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-layout").FullName;
        try
        {
            var source = Path.Combine(dir, "layout.c");
            var prints = paths.Select(p => $"  printf(\"{p} %zu\\n\", offsetof(struct {cStruct}, {p}));");
            File.WriteAllText(source, $$"""
                #include <stddef.h>
                #include <stdio.h>
                #include <linux/types.h>
                #include "{{header}}"
                int main(void) {
                  printf("sizeof %zu\n", sizeof(struct {{cStruct}}));
                {{string.Join("\n", prints)}}
                  return 0;
                }
                """);
            var exe = Path.Combine(dir, "layout");
            ChildProcess.RunChecked("gcc", $"-I{RepoPaths.Bpf}", "-o", exe, source);
            return ChildProcess.RunChecked(exe).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' ')).ToDictionary(p => p[0], p => int.Parse(p[1]));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
