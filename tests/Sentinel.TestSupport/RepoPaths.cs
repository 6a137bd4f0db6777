namespace Sentinel.TestSupport;

public static class RepoPaths
{
    /// <summary>The repository root: the directory holding Sentinel.sln, found upward from the test binary.</summary>
    public static string Root { get; } = FindRoot();

    public static string Rules => Path.Combine(Root, "rules");
    public static string Bpf => Path.Combine(Root, "bpf");

    /// <summary>The build configuration of the running tests; the binaries they start are built with the same one.</summary>
    public static string Configuration { get; } = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";

    /// <summary>
    /// The `sentinel` CLI (apphost; its assembly is <see cref="SentinelDll"/>): the copy next to the tests when they
    /// reference the CLI, else the CLI's own build output in src/Sentinel.Cli.
    /// </summary>
    public static string Sentinel { get; } =
        File.Exists(BesideTests("sentinel.dll")) ? BesideTests("sentinel") : BuiltOutput("src", "Sentinel.Cli", "sentinel");
    public static string SentinelDll => Sentinel + ".dll";

    /// <summary>A file the test project copies into its own output (native helpers, unit files, the Node client).</summary>
    public static string BesideTests(string file) => Path.Combine(AppContext.BaseDirectory, file);

    /// <summary>A system tool from a Debian package (installed by .ci/setup), or null when it is not installed.</summary>
    public static string? SystemTool(string name) =>
        new[] { "/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary><see cref="SystemTool"/>, failing with what to install when it is missing.</summary>
    public static string RequiredSystemTool(string name, string package) =>
        SystemTool(name) ?? throw new InvalidOperationException($"{name} is not installed: run `bash .ci/setup` (Debian package {package})");

    /// <summary>The test host (server, journal and pipeline driven over stdin), as built in tests/.</summary>
    public static string TestHostDll => BuiltOutput("tests", "Sentinel.Server.TestHost", "Sentinel.Server.TestHost.dll");

    private static string BuiltOutput(string area, string project, string file) =>
        Path.Combine(Root, area, project, "bin", Configuration, "net10.0", file);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Sentinel.sln"))) return dir.FullName;
        throw new InvalidOperationException("Sentinel.sln not found above " + AppContext.BaseDirectory);
    }
}
