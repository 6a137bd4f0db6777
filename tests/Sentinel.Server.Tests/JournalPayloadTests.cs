using Google.Protobuf;
using Sentinel.Contracts;
using Sentinel.Server.Journal;
using Sentinel.TestSupport;
using Severity = Sentinel.Events.Severity;

namespace Sentinel.Server.Tests;

/// <summary>
/// The stored bytes of a detection do not depend on how it was prepared: written straight from the detection, or from
/// its conversion (the event already converted for an event stream, or a printer that takes the conversion), with
/// the sequence fields written in the room left for them or in a new array.
/// </summary>
public sealed class JournalPayloadTests
{
    private sealed class ProtoSink : IProtoDetectionSink
    {
        public int Seen;
        public void OnDetection(V1.Detection detection) => Interlocked.Increment(ref Seen);
        public void OnDetection(Events.Detection detection) => throw new InvalidOperationException("takes the conversion");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Stored_payloads_are_the_detection_then_its_sequence_fields_however_they_were_prepared(bool printerTakesConversion)
    {
        using var dir = new TempDir();
        var journal = new DetectionJournal(new ServerOptions { JournalPath = Path.Combine(dir.Path, "j.db") });
        var sink = new ProtoSink();
        if (printerTakesConversion) journal.AddCommittedSink(sink);
        await journal.StartAsync(CancellationToken.None);
        await using (journal)
        {
            // 300 in bursts: the sequences cross 127 -> 128, where their fields grow a byte.
            var detections = new List<Events.Detection>();
            for (var burst = 0; burst < 3; burst++)
            {
                var target = journal.Range.Last + 100;
                for (var i = 0; i < 100; i++)
                {
                    var d = ServerHarness.MakeDetection("SNT-0001", Severity.Medium, detections.Count);
                    if (detections.Count % 3 == 0) EventConverter.Shared(d.Event); // converted for an event stream
                    detections.Add(d);
                    journal.OnDetection(d);
                }
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                while (journal.Range.Last < target) await journal.WaitForCommitAsync(journal.Range.Last, timeout.Token);
            }

            var stored = new List<(ulong Sequence, byte[] Payload)>();
            journal.ReadPayloadsAfter(0, 1000, stored);
            Assert.Equal(detections.Count, stored.Count);
            for (var i = 0; i < detections.Count; i++)
            {
                var sequence = (ulong)(i + 1);
                Assert.Equal(sequence, stored[i].Sequence);
                Assert.Equal(Expected(detections[i], sequence, journal.JournalId, journal.HostId), stored[i].Payload);
            }
        }
        if (printerTakesConversion) Assert.Equal(300, sink.Seen);
    }

    /// <summary>The converter's bytes with the sequence left out, then `sequence` and `agent_sequence` appended.</summary>
    private static byte[] Expected(Events.Detection detection, ulong sequence, string journalId, string hostId)
    {
        var proto = DetectionConverter.ToProto(detection);
        proto.Sequence = proto.AgentSequence = 0;
        proto.JournalId = journalId;
        proto.HostId = hostId;
        using var buffer = new MemoryStream();
        proto.WriteTo(buffer);
        var output = new CodedOutputStream(buffer, leaveOpen: true);
        output.WriteTag(V1.Detection.SequenceFieldNumber, WireFormat.WireType.Varint);
        output.WriteUInt64(sequence);
        output.WriteTag(V1.Detection.AgentSequenceFieldNumber, WireFormat.WireType.Varint);
        output.WriteUInt64(sequence);
        output.Flush();
        return buffer.ToArray();
    }

    [Fact]
    public async Task The_writer_accounts_its_cpu_time_as_it_commits()
    {
        using var dir = new TempDir();
        var journal = new DetectionJournal(new ServerOptions { JournalPath = Path.Combine(dir.Path, "j.db") });
        await journal.StartAsync(CancellationToken.None);
        await using (journal)
        {
            Assert.Equal(TimeSpan.Zero, journal.WriterCpuTime);
            for (var i = 0; i < 2000; i++) journal.OnDetection(ServerHarness.MakeDetection("SNT-0001", Severity.Low, i));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (journal.Range.Last < 2000) await journal.WaitForCommitAsync(journal.Range.Last, timeout.Token);
            // Numbering and inserting 2,000 detections takes well over a microsecond of CPU on any machine.
            Assert.True(journal.WriterCpuTime > TimeSpan.FromTicks(10), $"writer CPU {journal.WriterCpuTime}");
        }
    }
}
