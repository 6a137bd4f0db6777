using System.Diagnostics;
using System.Text;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.Fleet;
using Sentinel.TestSupport;
using AgentStatus = Sentinel.V1.AgentStatus;
using Detection = Sentinel.V1.Detection;
using Process = System.Diagnostics.Process;

namespace Sentinel.Fleet.Tests;

/// <summary>The test host as a real exporting agent process (server, journal, pipeline, exporter, heartbeat), driven over stdin.</summary>
public sealed class ExportAgent : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly SemaphoreSlim _lines = new(0);
    private readonly Queue<string> _stdout = new();

    private ExportAgent(Process process, string journal)
    {
        _process = process;
        Journal = journal;
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (_stdout) _stdout.Enqueue(e.Data);
            _lines.Release(); // also at the end of output, so a reader learns at once that the agent exited

        };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
    }

    public string Journal { get; }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public bool HasExited => _process.HasExited;

    /// <summary>Starts the agent on <paramref name="journal"/> exporting to <paramref name="nats"/> as <paramref name="hostId"/>.</summary>
    public static async Task<ExportAgent> StartAsync(string journal, string nats, string hostId, params string[] extra)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])[RepoPaths.TestHostDll, "--journal", journal, "--nats", nats, "--host-id", hostId, "--heartbeat-interval", "1", .. extra])
            start.ArgumentList.Add(arg);
        var agent = new ExportAgent(Process.Start(start)!, journal);
        var line = await agent.ReadLineAsync();
        if (!line.StartsWith("listening ")) throw new InvalidOperationException($"agent did not start: {line}\n{agent.Stderr}");
        return agent;
    }

    /// <summary>Emits detections; returns the last journal sequence once they are all committed.</summary>
    public async Task<ulong> EmitAsync(int count, string rule = "SNT-0001")
    {
        var line = await CommandAsync($"emit {count} {rule} 4");
        return line.StartsWith("ok ") ? ulong.Parse(line[3..]) : throw new InvalidOperationException(line);
    }

    public async Task<AgentStatus> StatusAsync()
    {
        var line = await CommandAsync("status");
        return AgentStatus.Parser.ParseJson(line["status ".Length..]);
    }

    public Task<string> CommandAsync(string command)
    {
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
        return ReadLineAsync();
    }

    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit(30_000);
    }

    public async Task QuitAsync()
    {
        _process.StandardInput.WriteLine("quit");
        _process.StandardInput.Flush();
        await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
    }

    private async Task<string> ReadLineAsync()
    {
        if (!await _lines.WaitAsync(TimeSpan.FromSeconds(90)))
            throw new TimeoutException("no answer from the agent\n" + Stderr);
        lock (_stdout)
            return _stdout.TryDequeue(out var line) ? line : throw new InvalidOperationException("the agent exited\n" + Stderr);
    }

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
    }
}

/// <summary>Reads what the fleet stream holds, straight from JetStream (no gateway).</summary>
public static class FleetStream
{
    public static NatsConnection Connect(string urls) =>
        new(new FleetOptions { Servers = FleetOptions.ParseServers(urls) }.ToNatsOpts("fleet-test"));

    /// <summary>Every message of the stream, in stream order, with its Nats-Msg-Id.</summary>
    public static async Task<List<(ulong StreamSeq, string MsgId, Detection Detection)>> ReadAllAsync(NatsConnection nats, string stream = FleetOptions.DefaultStream)
    {
        var js = new NatsJSContext(nats);
        var info = (await js.GetStreamAsync(stream)).Info.State;
        var result = new List<(ulong, string, Detection)>();
        if (info.Messages == 0) return result;
        var consumer = await js.CreateOrderedConsumerAsync(stream, new NatsJSOrderedConsumerOpts { DeliverPolicy = ConsumerConfigDeliverPolicy.All });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var msg in consumer.ConsumeAsync<byte[]>(cancellationToken: timeout.Token))
        {
            var seq = msg.Metadata!.Value.Sequence.Stream;
            result.Add((seq, msg.Headers?["Nats-Msg-Id"].ToString() ?? "", Detection.Parser.ParseFrom(msg.Data)));
            if (seq >= info.LastSeq) break;
        }
        return result;
    }

    /// <summary>Waits (bounded) until the stream holds at least <paramref name="count"/> messages.</summary>
    public static async Task WaitForCountAsync(NatsConnection nats, ulong count, TimeSpan timeout, string stream = FleetOptions.DefaultStream)
    {
        var js = new NatsJSContext(nats);
        var deadline = DateTime.UtcNow + timeout;
        ulong seen = 0;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                seen = (ulong)(await js.GetStreamAsync(stream)).Info.State.Messages;
                if (seen >= count) return;
            }
            catch (NatsJSApiException) { }
            catch (NatsException) { }
            await Task.Delay(50);
        }
        throw new TimeoutException($"stream {stream} holds {seen} messages, expected {count}");
    }

    /// <summary>Asserts the stream holds exactly sequences 1..<paramref name="last"/> of the host, once each, in order.</summary>
    public static void AssertExactlyOnceInOrder(IEnumerable<(ulong StreamSeq, string MsgId, Detection Detection)> messages, string hostId, ulong last, string journalId)
    {
        var mine = messages.Where(m => m.Detection.HostId == hostId).ToList();
        var seqs = mine.Select(m => m.Detection.AgentSequence).ToList();
        Assert.Equal(seqs.Distinct().Count(), seqs.Count); // no duplicate
        Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (ulong)i), seqs); // nothing lost, in order
        Assert.All(mine, m =>
        {
            Assert.Equal(journalId, m.Detection.JournalId);
            Assert.Equal($"{journalId}:{m.Detection.AgentSequence}", m.MsgId);
        });
    }
}
