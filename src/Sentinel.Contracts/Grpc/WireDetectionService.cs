using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Sentinel.V1;

namespace Sentinel.Contracts.Grpc;

/// <summary>
/// A detection as a server writes it to a StreamDetections client: usually bytes it already holds (the journal's
/// stored payload, a stream message), so no client costs a decode and re-encode.
/// </summary>
public abstract class WireDetection
{
    /// <summary>Writes this detection as one sentinel.v1.Detection message.</summary>
    public abstract void Serialize(SerializationContext context);

    /// <summary>Writes a detection; reads one back parsed (what a client of the method gets).</summary>
    public static Marshaller<WireDetection> Marshaller { get; } = Marshallers.Create<WireDetection>(
        static (detection, context) => detection.Serialize(context),
        static context => new ParsedDetection(Detection.Parser.ParseFrom(context.PayloadAsReadOnlySequence())));
}

/// <summary>A detection held as a parsed message, encoded when written.</summary>
public sealed class ParsedDetection(Detection detection) : WireDetection
{
    public Detection Detection { get; } = detection;

    public override void Serialize(SerializationContext context) => ProtoMarshallers.Serialize(Detection, context);
}

/// <summary>
/// sentinel.v1.DetectionService with the generated base's methods and wire contract, except that StreamDetections
/// writes <see cref="WireDetection"/>s. The attribute is what grpc-dotnet (and its reflection service) read; grpc-dotnet
/// wants the handlers declared on the type that carries it, so the agent and the gateway both derive from this one.
/// </summary>
[BindServiceMethod(typeof(WireDetectionServiceBinding), nameof(WireDetectionServiceBinding.BindService))]
public abstract class WireDetectionServiceBase
{
    public virtual Task StreamDetections(StreamDetectionsRequest request, IServerStreamWriter<WireDetection> responseStream, ServerCallContext context) =>
        throw Unimplemented(nameof(StreamDetections));

    public virtual Task StreamEvents(StreamEventsRequest request, IServerStreamWriter<Event> responseStream, ServerCallContext context) =>
        throw Unimplemented(nameof(StreamEvents));

    public virtual Task<ListRulesResponse> ListRules(ListRulesRequest request, ServerCallContext context) => throw Unimplemented(nameof(ListRules));

    public virtual Task<AgentStatus> GetStatus(GetStatusRequest request, ServerCallContext context) => throw Unimplemented(nameof(GetStatus));

    public virtual Task<ListAgentsResponse> ListAgents(ListAgentsRequest request, ServerCallContext context) => throw Unimplemented(nameof(ListAgents));

    private static RpcException Unimplemented(string method) => new(new Status(StatusCode.Unimplemented, $"{method} is not served here"));
}

public static class WireDetectionServiceBinding
{
    /// <summary>The contract this binding serves (gRPC reflection looks for this property).</summary>
    public static ServiceDescriptor Descriptor => DetectionService.Descriptor;

    public static void BindService(ServiceBinderBase binder, WireDetectionServiceBase? service)
    {
        // The handlers are found by name on the service type; the delegates only give the binder their shape.
        binder.AddMethod(Method(MethodType.ServerStreaming, nameof(service.StreamDetections), ProtoMarshallers.For(StreamDetectionsRequest.Parser), WireDetection.Marshaller),
            (ServerStreamingServerMethod<StreamDetectionsRequest, WireDetection>?)null);
        binder.AddMethod(Method(MethodType.ServerStreaming, nameof(service.StreamEvents), ProtoMarshallers.For(StreamEventsRequest.Parser), ProtoMarshallers.For(Event.Parser)),
            (ServerStreamingServerMethod<StreamEventsRequest, Event>?)null);
        binder.AddMethod(Unary(nameof(service.ListRules), ListRulesRequest.Parser, ListRulesResponse.Parser), (UnaryServerMethod<ListRulesRequest, ListRulesResponse>?)null);
        binder.AddMethod(Unary(nameof(service.GetStatus), GetStatusRequest.Parser, AgentStatus.Parser), (UnaryServerMethod<GetStatusRequest, AgentStatus>?)null);
        binder.AddMethod(Unary(nameof(service.ListAgents), ListAgentsRequest.Parser, ListAgentsResponse.Parser), (UnaryServerMethod<ListAgentsRequest, ListAgentsResponse>?)null);
    }

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : class, IMessage<TRequest> where TResponse : class, IMessage<TResponse> =>
        Method(MethodType.Unary, name, ProtoMarshallers.For(request), ProtoMarshallers.For(response));

    private static Method<TRequest, TResponse> Method<TRequest, TResponse>(MethodType type, string name, Marshaller<TRequest> request, Marshaller<TResponse> response)
    {
        // Names come from the contract itself, so a renamed or missing method fails at start, not on a client's call.
        var method = Descriptor.FindMethodByName(name) ?? throw new InvalidOperationException($"{Descriptor.FullName} has no method {name}");
        return new Method<TRequest, TResponse>(type, Descriptor.FullName, method.Name, request, response);
    }
}
