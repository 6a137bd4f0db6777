using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Sentinel.V1;

namespace Sentinel.Fleet.Gateway;

/// <summary>
/// sentinel.v1.DetectionService as the gateway serves it: the same methods and wire contract as the generated base,
/// except that StreamDetections writes <see cref="FleetDetection"/>s, whose marshaller passes a stored detection's
/// bytes through. The binding below is what grpc-dotnet (and its reflection service) reads from the attribute.
/// </summary>
[BindServiceMethod(typeof(FleetDetectionServiceBinding), nameof(FleetDetectionServiceBinding.BindService))]
public abstract class FleetDetectionServiceBase
{
    public virtual Task StreamDetections(StreamDetectionsRequest request, IServerStreamWriter<FleetDetection> responseStream, ServerCallContext context) =>
        throw Unimplemented(nameof(StreamDetections));

    public virtual Task StreamEvents(StreamEventsRequest request, IServerStreamWriter<Event> responseStream, ServerCallContext context) =>
        throw Unimplemented(nameof(StreamEvents));

    public virtual Task<ListRulesResponse> ListRules(ListRulesRequest request, ServerCallContext context) => throw Unimplemented(nameof(ListRules));

    public virtual Task<AgentStatus> GetStatus(GetStatusRequest request, ServerCallContext context) => throw Unimplemented(nameof(GetStatus));

    public virtual Task<ListAgentsResponse> ListAgents(ListAgentsRequest request, ServerCallContext context) => throw Unimplemented(nameof(ListAgents));

    private static RpcException Unimplemented(string method) => new(new Status(StatusCode.Unimplemented, $"{method} is not served here"));
}

public static class FleetDetectionServiceBinding
{
    /// <summary>The contract this binding serves (gRPC reflection looks for this property).</summary>
    public static ServiceDescriptor Descriptor => DetectionService.Descriptor;

    public static void BindService(ServiceBinderBase binder, FleetDetectionServiceBase? service)
    {
        // The handlers are found by name on the service type; the delegates only give the binder their shape.
        binder.AddMethod(Method(MethodType.ServerStreaming, nameof(service.StreamDetections), ProtoMarshallers.For(StreamDetectionsRequest.Parser), FleetDetection.Marshaller),
            (ServerStreamingServerMethod<StreamDetectionsRequest, FleetDetection>?)null);
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
