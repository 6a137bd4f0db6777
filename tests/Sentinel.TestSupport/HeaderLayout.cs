using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xunit;

namespace Sentinel.TestSupport;

/// <summary>
/// Checks a generated mirror against its BPF header with the C compiler as the judge: gcc prints offsetof of every
/// field the mirror lists (its generated LayoutFields) and sizeof of the struct, and each must equal the C# layout.
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
