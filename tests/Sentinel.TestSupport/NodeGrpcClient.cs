namespace Sentinel.TestSupport;

/// <summary>
/// The independent Node client (tests/Sentinel.Server.Tests/node-client: @grpc/grpc-js loading proto/ at run time),
/// copied next to the test binary by the projects that use it.
/// </summary>
public static class NodeGrpcClient
{
    public static string Directory => RepoPaths.BesideTests("node-client");

    /// <summary>`node stream.js PROTO_ROOT ADDRESS args...`: its output lines, the last being "status CODE".</summary>
    public static async Task<string[]> StreamAsync(string address, params string[] args)
    {
        await EnsureInstalledAsync();
        var (exit, output) = await ExecAsync("node", ["stream.js", Path.Combine(RepoPaths.Root, "proto"), address, .. args]);
        Xunit.Assert.True(exit == 0, output);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Installs the pinned client packages once per build output (npm ci from the lock file).</summary>
    private static async Task EnsureInstalledAsync()
    {
        if (System.IO.Directory.Exists(Path.Combine(Directory, "node_modules", "@grpc", "grpc-js"))) return;
        var (exit, output) = await ExecAsync("npm", ["ci", "--no-audit", "--no-fund"]);
        Xunit.Assert.True(exit == 0, "npm ci failed (node and npm are needed for this test): " + output);
    }

    private static async Task<(int Exit, string Output)> ExecAsync(string file, string[] args)
    {
        var (exit, stdout, stderr) = await ChildProcess.RunAsync(file, args, seconds: 180, workingDirectory: Directory);
        return (exit, stdout + stderr);
    }
}
