using CsCheck;
using Grpc.Core;
using Sentinel.Server.Tests;
using Sentinel.V1;

namespace Sentinel.Fuzz.Tests;

/// <summary>
/// The gRPC request handlers of a real server (Kestrel, real journal) with a real client: random but
/// well-formed requests of every method, and random bytes as the request message. Every call that reaches a
/// handler must end with OK or a deliberate status (never UNKNOWN or INTERNAL from an exception in a handler),
/// no call may hang past its deadline, and the server must answer GetStatus afterwards.
/// </summary>
public sealed class GrpcFuzzTests
{
    private static readonly StatusCode[] Deliberate =
    [
        StatusCode.OK, StatusCode.InvalidArgument, StatusCode.OutOfRange, StatusCode.DeadlineExceeded,
        StatusCode.Cancelled, StatusCode.FailedPrecondition, StatusCode.NotFound, StatusCode.Unavailable,
    ];

    private static readonly string[] Ids = ["SNT-0001", "SNT-0002", "SNT-9999", "", "snt-0001", new string('A', 300), "\u0000", "SNT-0001\n"];

    private sealed record Call(int Method, ulong After, int Severity, string[] RuleIds, bool Follow, uint BufferSize);

    private static readonly Gen<Call> Calls = Gen.Select(
        Gen.Int[0, 3],
        Gen.OneOf(Gen.ULong[0, 64], Gen.ULong, Gen.Const(ulong.MaxValue)),
        Gen.Int[-3, 9],
        Gen.OneOf(Gen.Int[0, Ids.Length - 1].Select(i => Ids[i]), Gen.String[0, 20]).Array[0, 5],
        Gen.Bool,
        Gen.OneOf(Gen.UInt[0, 16], Gen.UInt),
        (m, a, s, r, f, b) => new Call(m, a, s, r, f, b));

    [Fact]
    public async Task Well_formed_requests_get_an_answer_or_a_deliberate_error()
    {
        await using var server = await ServerHarness.StartAsync();
        var last = await server.EmitAsync(40);
        var client = server.Client();

        await FuzzBudget.RunAsync(Calls, async call =>
        {
            var status = await Invoke(client, call);
            Assert.True(Deliberate.Contains(status.StatusCode), $"{call}: {status}");
        }, print: call => call.ToString());

        var health = await client.GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.NotNull(health);
        Assert.Equal(last, server.Journal.Range.Last);
    }

    [Fact]
    public async Task Random_bytes_as_a_request_never_break_the_server()
    {
        await using var server = await ServerHarness.StartAsync();
        await server.EmitAsync(5);
        var invoker = server.Channel().CreateCallInvoker();
        var bytes = Marshallers.Create(b => b, b => b);
        string[] methods = ["StreamDetections", "StreamEvents", "ListRules", "GetStatus"];
        Google.Protobuf.MessageParser[] parsers =
            [StreamDetectionsRequest.Parser, StreamEventsRequest.Parser, ListRulesRequest.Parser, GetStatusRequest.Parser];
        var gen = Gen.Select(Gen.Int[0, methods.Length - 1], Gen.Byte.Array[0, 256]);

        await FuzzBudget.RunAsync(gen, async input =>
        {
            var (which, payload) = input;
            var method = new Method<byte[], byte[]>(which < 2 ? MethodType.ServerStreaming : MethodType.Unary,
                "sentinel.v1.DetectionService", methods[which], bytes, bytes);
            var options = new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(300));
            try
            {
                if (method.Type == MethodType.Unary)
                    await invoker.AsyncUnaryCall(method, null, options, payload);
                else
                {
                    using var call = invoker.AsyncServerStreamingCall(method, null, options, payload);
                    while (await call.ResponseStream.MoveNext(CancellationToken.None)) { }
                }
            }
            catch (RpcException ex)
            {
                // A payload that is not the request message is refused by grpc-dotnet before any handler of ours
                // runs (it answers UNKNOWN); one that parses reaches the handler, which must answer deliberately.
                if (Parses(parsers[which], payload))
                    Assert.True(Deliberate.Contains(ex.StatusCode), $"{methods[which]} {Convert.ToHexString(payload)}: {ex.Status}");
            }
        }, print: input => $"{methods[input.Item1]} {Convert.ToHexString(input.Item2)}");

        var client = server.Client();
        Assert.NotNull(await client.GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(30)));
    }

    /// <summary>
    /// Found by the raw-bytes fuzzer (seed a32-pIpa8Ii5, shrunk to the one byte 0x03, a field-0 group tag): a
    /// request that is not a protobuf message is refused by grpc-dotnet before our handler runs, as UNKNOWN.
    /// The call ends at once and the server keeps serving; the handler never sees it.
    /// </summary>
    [Fact]
    public async Task An_unparsable_request_is_refused_and_the_server_keeps_serving()
    {
        await using var server = await ServerHarness.StartAsync();
        var bytes = Marshallers.Create(b => b, b => b);
        var method = new Method<byte[], byte[]>(MethodType.ServerStreaming, "sentinel.v1.DetectionService", "StreamDetections", bytes, bytes);
        Assert.False(Parses(StreamDetectionsRequest.Parser, [0x03]));

        using var call = server.Channel().CreateCallInvoker()
            .AsyncServerStreamingCall(method, null, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(30)), [0x03]);
        var refused = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        Assert.NotEqual(StatusCode.DeadlineExceeded, refused.StatusCode);
        Assert.NotNull(await server.Client().GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(30)));
    }

    private static bool Parses(Google.Protobuf.MessageParser parser, byte[] payload)
    {
        try
        {
            parser.ParseFrom(payload);
            return true;
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            return false;
        }
    }

    private static async Task<Status> Invoke(DetectionService.DetectionServiceClient client, Call call)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(call.Follow || call.Method == 1 ? 200 : 5000);
        try
        {
            switch (call.Method)
            {
                case 0:
                    var request = new StreamDetectionsRequest
                    {
                        AfterSequence = call.After, MinSeverity = (Severity)call.Severity, Follow = call.Follow,
                    };
                    request.RuleIds.AddRange(call.RuleIds);
                    using (var stream = client.StreamDetections(request, deadline: deadline))
                        while (await stream.ResponseStream.MoveNext(CancellationToken.None)) { }
                    break;
                case 1:
                    using (var events = client.StreamEvents(new StreamEventsRequest { BufferSize = call.BufferSize }, deadline: deadline))
                        while (await events.ResponseStream.MoveNext(CancellationToken.None)) { }
                    break;
                case 2:
                    await client.ListRulesAsync(new ListRulesRequest(), deadline: deadline);
                    break;
                default:
                    await client.GetStatusAsync(new GetStatusRequest(), deadline: deadline);
                    break;
            }
            return Status.DefaultSuccess;
        }
        catch (RpcException ex)
        {
            return ex.Status;
        }
    }
}
