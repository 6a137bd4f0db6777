using Google.Protobuf;
using Grpc.Core;

namespace Sentinel.Contracts.Grpc;

/// <summary>gRPC marshallers for protobuf messages, written straight into the response pipe as generated code does.</summary>
public static class ProtoMarshallers
{
    public static Marshaller<T> For<T>(MessageParser<T> parser) where T : class, IMessage<T> =>
        Marshallers.Create<T>(Serialize, context => parser.ParseFrom(context.PayloadAsReadOnlySequence()));

    public static void Serialize(IMessage message, SerializationContext context)
    {
        context.SetPayloadLength(message.CalculateSize());
        message.WriteTo(context.GetBufferWriter());
        context.Complete();
    }
}
