namespace Sentinel.Bpf;

/// <summary>Finds the built BPF objects: next to the assemblies, or under bpf/.output in a source checkout.</summary>
public static class BpfObjectFiles
{
    public static string Path(string name)
    {
        var file = name + ".bpf.o";
        var beside = System.IO.Path.Combine(AppContext.BaseDirectory, "bpf", file);
        if (File.Exists(beside)) return beside;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var built = System.IO.Path.Combine(dir.FullName, "bpf", ".output", file);
            if (File.Exists(built)) return built;
        }
        return beside;
    }
}
