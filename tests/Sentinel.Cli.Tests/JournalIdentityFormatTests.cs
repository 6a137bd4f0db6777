using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Sentinel.Contracts;
using Sentinel.Events;
using Sentinel.Formats;
using Sentinel.Server;
using Sentinel.Server.Journal;
using Sentinel.TestSupport;

namespace Sentinel.Cli.Tests;

/// <summary>
/// What `run --format ocsf|ecs|cef` and `--syslog` print: detections handed over by a real SQLite journal once
/// committed, carrying the journal's id, the host id and the agent sequence, as the streamed ones do.
/// </summary>
public sealed class JournalIdentityFormatTests
{
    private sealed class Printed : IDetectionSink
    {
        public readonly ConcurrentQueue<string> Lines = new();
        public void OnDetection(Detection detection)
        {
            foreach (var format in new[] { "ocsf", "ecs", "cef" }) Lines.Enqueue(DetectionFormats.Get(format).Format(detection));
        }
    }

    [Fact]
    public async Task Printers_after_the_journal_carry_its_identity_in_every_siem_format()
    {
        var dir = Directory.CreateTempSubdirectory("sentinel-journal-id-");
        try
        {
            var printed = new Printed();
            await using var journal = new DetectionJournal(new ServerOptions { JournalPath = Path.Combine(dir.FullName, "j.db"), HostId = "web-01" });
            journal.AddCommittedSink(printed);
            await journal.StartAsync(CancellationToken.None);
            journal.OnDetection(new Detection
            {
                Rule = new RuleInfo { Id = "SNT-0001", Version = "1.0.0", Name = "cross-process", MitreTactics = ["TA0005"], MitreTechniques = ["T1055"] },
                Time = DateTimeOffset.UtcNow, Message = "moved another process's pages", Event = new MovePagesEvent { Pid = 4242, TargetPid = 1 },
            });
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await journal.WaitForCommitAsync(0, timeout.Token);
            await Wait.UntilAsync(() => printed.Lines.Count >= 3, "the three printers, which run right after the commit");

            var stored = new List<V1.Detection>();
            journal.ReadAfter(0, 10, stored);
            var journalId = Assert.Single(stored).JournalId;
            Assert.NotEmpty(journalId);
            var lines = printed.Lines.ToArray();
            var ocsf = JsonNode.Parse(lines[0])!;
            Assert.Equal((journalId, "web-01", 1L), ((string)ocsf["unmapped"]!["sentinel"]!["journal_id"]!,
                (string)ocsf["device"]!["uid"]!, (long)ocsf["unmapped"]!["sentinel"]!["agent_sequence"]!));
            var ecs = JsonNode.Parse(lines[1])!;
            Assert.Equal((journalId, "web-01"), ((string)ecs["sentinel"]!["journal_id"]!, (string)ecs["host"]!["id"]!));
            Assert.Contains($"sentinelJournalId={journalId}", lines[2]);
            Assert.Contains("deviceExternalId=web-01", lines[2]);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
