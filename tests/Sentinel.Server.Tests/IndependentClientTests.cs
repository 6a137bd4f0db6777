using System.Text.Json.Nodes;
using Sentinel.TestSupport;

namespace Sentinel.Server.Tests;

/// <summary>A client that is not ours: Node's @grpc/grpc-js loading proto/ as published.</summary>
public sealed class IndependentClientTests
{
    [Fact]
    public async Task A_grpc_js_client_streams_and_resumes_detections_from_the_published_protos()
    {
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

    private static Task<string[]> RunAsync(ServerHarness server, params string[] args) =>
        NodeGrpcClient.StreamAsync(new Uri(server.Address).Authority, args);
}
