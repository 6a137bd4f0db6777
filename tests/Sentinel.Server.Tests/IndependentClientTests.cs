using System.Diagnostics;
using System.Text.Json.Nodes;
using Sentinel.TestSupport;

namespace Sentinel.Server.Tests;

/// <summary>A client that is not ours: Node's @grpc/grpc-js loading proto/ as published.</summary>
public sealed class IndependentClientTests
{
    private static readonly string ClientDir = Path.Combine(AppContext.BaseDirectory, "node-client");

    [Fact]
    public async Task A_grpc_js_client_streams_and_resumes_detections_from_the_published_protos()
    {
        await EnsureNodeClientAsync();
        await using var server = await ServerHarness.StartAsync();
        await server.EmitAsync(5, "SNT-0001");
        await server.EmitAsync(5, "SNT-0002", Events.Severity.Critical);

        var all = await RunAsync(server, "0");
        Assert.Equal("status 0", all[^1]);
        var detections = all[..^1].Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(Enumerable.Range(1, 10).Select(i => i.ToString()), detections.Select(d => (string)d["sequence"]!));
        Assert.Equal("SEVERITY_CRITICAL", (string)detections[9]["severity"]!);
        Assert.Equal(4242, (int)detections[0]["pid"]!);

        // Resume after 7, only SNT-0002: 8, 9, 10.
        var resumed = await RunAsync(server, "7", "SNT-0002");
        Assert.Equal(["8", "9", "10"], resumed[..^1].Select(l => (string)JsonNode.Parse(l)!["sequence"]!));

        // The same error codes reach other clients: OUT_OF_RANGE is 11, INVALID_ARGUMENT is 3.
        Assert.Equal("status 11", (await RunAsync(server, "99"))[^1]);
        Assert.Equal("status 3", (await RunAsync(server, "0", "SNT-4040"))[^1]);
    }

    private static async Task<string[]> RunAsync(ServerHarness server, params string[] args)
    {
        var address = new Uri(server.Address).Authority;
        var (exit, output) = await ExecAsync("node", ClientDir, ["stream.js", Path.Combine(RepoPaths.Root, "proto"), address, .. args]);
        Assert.True(exit == 0, output);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Installs the pinned client packages once per build output (npm ci from the lock file).</summary>
    private static async Task EnsureNodeClientAsync()
    {
        if (Directory.Exists(Path.Combine(ClientDir, "node_modules", "@grpc", "grpc-js"))) return;
        var (exit, output) = await ExecAsync("npm", ClientDir, ["ci", "--no-audit", "--no-fund"]);
        Assert.True(exit == 0, "npm ci failed (node and npm are needed for this test): " + output);
    }

    private static async Task<(int Exit, string Output)> ExecAsync(string file, string dir, string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
