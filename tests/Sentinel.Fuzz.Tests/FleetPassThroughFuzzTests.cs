using CsCheck;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Sentinel.Contracts;
using Sentinel.Fleet.Gateway;
using Sentinel.Server.Tests;
using Sentinel.V1;

namespace Sentinel.Fuzz.Tests;

/// <summary>
/// The fleet gateway passes a stored detection to clients as its own bytes when its wire check vouches for them.
/// Whatever a publisher put on the stream, a message the gateway accepts must reach every client as exactly the
/// detection the full parse would have produced (same fields, the fleet's sequence and host), and a message it
/// refuses must be refused by the parser too; nothing may throw out of the decoder.
/// </summary>
public sealed class FleetPassThroughFuzzTests
{
    private const string Subject = "sentinel.v1.detections.host-7";

    private static readonly byte[][] Seeds = BuildSeeds();

    private static byte[][] BuildSeeds()
    {
        var plain = DetectionConverter.ToProto(ServerHarness.MakeDetection("SNT-0001", Sentinel.Events.Severity.High, 1));
        plain.Sequence = plain.AgentSequence = 41;
        var noAgentSequence = plain.Clone();
        noAgentSequence.AgentSequence = 0;
        var remediated = plain.Clone();
        remediated.Remediation = new Remediation { Action = "kill", Result = "signalled" };
        remediated.Fields.Add("ünïcode", "値");
        remediated.HostId = "forged";
        return [plain.ToByteArray(), noAgentSequence.ToByteArray(), remediated.ToByteArray(), [.. plain.ToByteArray(), 0xF8, 0x06, 0x01]];
    }

    private static readonly byte[] Interesting = [0x80, 0xFF, 0x00, 0x7F, 0xC0, 0x0A, 0x12, 0x0B, 0x0C];

    private static readonly Gen<byte[]> Messages = Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.Int[0, 4], Gen.Int.Array[20], (which, edits, random) =>
    {
        var bytes = new List<byte>(Seeds[which]);
        for (var i = 0; i < edits; i++)
        {
            var (a, b, c) = ((uint)random[4 * i], (uint)random[4 * i + 1], (uint)random[4 * i + 2]);
            var at = bytes.Count == 0 ? 0 : (int)(a % (uint)bytes.Count);
            switch (c % 6)
            {
                case 0: if (bytes.Count > 0) bytes[at] = (byte)b; break;
                case 1: bytes.RemoveRange(at, Math.Min((int)(b % 16), bytes.Count - at)); break;
                case 2: bytes.InsertRange(at, BitConverter.GetBytes(b).Take((int)(c / 6 % 5))); break;
                case 3: bytes.InsertRange(at, bytes.Skip(at).Take((int)(b % 40)).ToList()); break;
                case 4: if (bytes.Count > 0) bytes[at] = Interesting[b % (uint)Interesting.Length]; break;
                default: bytes.RemoveRange(at, bytes.Count - at); break;
            }
        }
        return bytes.ToArray();
    });

    [Fact]
    public void A_passed_through_detection_is_what_the_full_parse_gives_and_a_refused_one_is_refused_by_the_parser()
    {
        var decoder = new StreamDecoder(NullLogger<StreamDecoder>.Instance);
        ulong sequence = 0;
        FuzzBudget.Run(Messages, bytes =>
        {
            var fleet = new FleetDetection();
            var accepted = decoder.TryDecode(Subject, bytes, ++sequence, fleet);
            Detection? parsed = null;
            try
            {
                parsed = Detection.Parser.ParseFrom(bytes);
            }
            catch (InvalidProtocolBufferException)
            {
            }
            var expected = parsed is { RuleId.Length: > 0 } && bytes.Length > 0;
            Assert.Equal(expected, accepted);
            if (!accepted) return;

            parsed!.AgentSequence = parsed.AgentSequence == 0 ? parsed.Sequence : parsed.AgentSequence;
            parsed.Sequence = sequence;
            parsed.HostId = "host-7";
            // Through the real marshaller, as a client receives it.
            var wire = Serialize(fleet);
            Assert.Equal(parsed, Detection.Parser.ParseFrom(wire));
            Assert.Equal(parsed.Severity, fleet.Severity);
            Assert.True(fleet.RuleIdIn([parsed.RuleId]));
            Assert.False(fleet.RuleIdIn([parsed.RuleId + "x"]));
        }, print: Convert.ToHexString);
    }

    private static byte[] Serialize(FleetDetection detection)
    {
        var context = new BufferSerializationContext();
        FleetDetection.Marshaller.ContextualSerializer(detection, context);
        return context.Written;
    }

    private sealed class BufferSerializationContext : Grpc.Core.SerializationContext
    {
        private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new();
        private int _declared = -1;

        public byte[] Written
        {
            get
            {
                Assert.Equal(_declared, _buffer.WrittenCount); // the declared payload length is the real one
                return _buffer.WrittenSpan.ToArray();
            }
        }

        public override void SetPayloadLength(int payloadLength) => _declared = payloadLength;
        public override System.Buffers.IBufferWriter<byte> GetBufferWriter() => _buffer;
        public override void Complete() { }
        public override void Complete(byte[] payload) => System.Buffers.BuffersExtensions.Write(_buffer, payload);
    }
}
