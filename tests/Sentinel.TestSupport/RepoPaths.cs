namespace Sentinel.TestSupport;

public static class RepoPaths
{
    /// <summary>The repository root: the directory holding Sentinel.sln, found upward from the test binary.</summary>
    public static string Root { get; } = FindRoot();

    public static string Rules => Path.Combine(Root, "rules");
    public static string Bpf => Path.Combine(Root, "bpf");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sentinel.sln"))) return dir.FullName;
        throw new InvalidOperationException("Sentinel.sln not found above " + AppContext.BaseDirectory);
    }
}
