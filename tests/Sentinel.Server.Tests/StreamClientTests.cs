using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Sentinel.Pipeline;
using Sentinel.Events;
using Sentinel.Formats;
using Sentinel.TestSupport;
using Sentinel.V1;
using Detection = Sentinel.Events.Detection;
using Severity = Sentinel.Events.Severity;

namespace Sentinel.Server.Tests;

/// <summary>`sentinel stream --checkpoint`, `--token-file` and connection errors, as the SIEM side runs them.</summary>
public sealed class StreamCheckpointTests
{
    private static string Dll => RepoPaths.SentinelDll;

    private static List<ulong> Sequences(CliProcess p) => p.Lines.Select(l => ulong.Parse((string)JsonNode.Parse(l)!["sequence"]!)).ToList();

    [Fact]
    public async Task A_checkpoint_is_saved_after_each_detection_and_the_next_run_resumes_after_it()
    {
        using var dir = new TempDir();
        var listen = $"127.0.0.1:{ServerHarness.FreePort()}";
        using var agent = await TestHostProcess.StartAsync(Path.Combine(dir.Path, "j.db"), "--listen", listen);
        await agent.EmitAsync(10);
        var checkpoint = Path.Combine(dir.Path, "siem.checkpoint");

        using (var first = new CliProcess(Dll, "stream", "--server", listen, "--checkpoint", checkpoint))
        {
            Assert.Equal(0, await first.WaitForExitAsync());
            Assert.Equal(Enumerable.Range(1, 10).Select(i => (ulong)i), Sequences(first));
        }
        Assert.Equal(10ul, (ulong)JsonNode.Parse(File.ReadAllText(checkpoint))!["sequence"]!);
        Assert.False(File.Exists(checkpoint + ".tmp"));

        await agent.EmitAsync(5);
        using (var second = new CliProcess(Dll, "stream", "--server", listen, "--checkpoint", checkpoint))
        {
            Assert.Equal(0, await second.WaitForExitAsync());
            Assert.Equal(Enumerable.Range(11, 5).Select(i => (ulong)i), Sequences(second));
        }

        // Where to start is said once: --after next to an existing checkpoint is refused.
        using var both = new CliProcess(Dll, "stream", "--server", listen, "--checkpoint", checkpoint, "--after", "3");
        Assert.Equal(2, await both.WaitForExitAsync());
        Assert.Contains("--after and the checkpoint", both.Stderr);
    }

    [Fact]
    public async Task A_stream_killed_mid_burst_resumes_from_its_checkpoint_without_a_gap()
    {
        using var dir = new TempDir();
        var listen = $"127.0.0.1:{ServerHarness.FreePort()}";
        using var agent = await TestHostProcess.StartAsync(Path.Combine(dir.Path, "j.db"), "--listen", listen);
        var checkpoint = Path.Combine(dir.Path, "cp");
        List<ulong> before;
        using (var tail = new CliProcess(Dll, "stream", "--server", listen, "--follow", "--checkpoint", checkpoint))
        {
            await agent.SendAsync("emit 400 SNT-0002 4");
            await tail.WaitForLinesAsync(60);
            tail.Kill(); // SIGKILL, mid-stream
            before = Sequences(tail);
        }
        var last = await agent.EmitAsync(0);
        // Never torn: the checkpoint is the old or the new file, and at most one printed detection past it.
        var saved = (ulong)JsonNode.Parse(File.ReadAllText(checkpoint))!["sequence"]!;
        Assert.InRange(saved, (ulong)before.Count - 1, (ulong)before.Count);

        using var resumed = new CliProcess(Dll, "stream", "--server", listen, "--checkpoint", checkpoint);
        Assert.Equal(0, await resumed.WaitForExitAsync());
        var after = Sequences(resumed);
        Assert.Equal(saved + 1, after[0]);
        Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (ulong)i), before.Concat(after).Distinct().Order());
        Assert.Equal(last, (ulong)JsonNode.Parse(File.ReadAllText(checkpoint))!["sequence"]!);
    }

    [Fact]
    public async Task A_checkpoint_from_a_journal_that_was_reset_is_refused()
    {
        using var dir = new TempDir();
        var checkpoint = Path.Combine(dir.Path, "cp");
        var listen = $"127.0.0.1:{ServerHarness.FreePort()}";
        using (var agent = await TestHostProcess.StartAsync(Path.Combine(dir.Path, "old.db"), "--listen", listen))
        {
            await agent.EmitAsync(10);
            using var stream = new CliProcess(Dll, "stream", "--server", listen, "--checkpoint", checkpoint);
            Assert.Equal(0, await stream.WaitForExitAsync());
            await agent.QuitAsync();
        }

        // A new, shorter journal: the checkpoint is past its end.
        using (var agent = await TestHostProcess.StartAsync(Path.Combine(dir.Path, "new.db"), "--listen", listen))
        {
            await agent.EmitAsync(3);
            using var shorter = new CliProcess(Dll, "stream", "--server", listen, "--checkpoint", checkpoint);
            Assert.Equal(2, await shorter.WaitForExitAsync());
            Assert.Contains($"the checkpoint {checkpoint} is past the end of the agent's journal; was the journal reset?", shorter.Stderr);

            // A new journal that has grown past it: told apart by its journal id, where the contract carries one.
            if (V1.Detection.Descriptor.FindFieldByName("journal_id") is null) return;
            await agent.EmitAsync(20);
            using var longer = new CliProcess(Dll, "stream", "--server", listen, "--checkpoint", checkpoint);
            Assert.Equal(2, await longer.WaitForExitAsync());
            Assert.Contains("the agent's journal was reset", longer.Stderr);
            Assert.Empty(longer.Lines);
        }
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("{\"sequence\":-1}")]
    [InlineData("")]
    public async Task A_corrupt_checkpoint_is_one_clear_error_and_exit_2(string content)
    {
        using var dir = new TempDir();
        var checkpoint = Path.Combine(dir.Path, "cp");
        File.WriteAllText(checkpoint, content);
        using var stream = new CliProcess(Dll, "stream", "--server", "127.0.0.1:1", "--checkpoint", checkpoint);
        Assert.Equal(2, await stream.WaitForExitAsync());
        Assert.Equal($"sentinel: {checkpoint}: not a stream checkpoint (expected {{\"sequence\":N}}); fix or delete it to start over", stream.Stderr);
    }

    [Fact]
    public async Task Connection_errors_name_the_address_and_the_cause_in_one_line()
    {
        using var unresolved = new CliProcess(Dll, "stream", "--server", "nohost.invalid", "--follow");
        Assert.Equal(2, await unresolved.WaitForExitAsync());
        Assert.Equal($"sentinel: cannot connect to nohost.invalid:{ServerOptions.DefaultPort}: name does not resolve", unresolved.Stderr);

        var port = ServerHarness.FreePort(); // nothing listens there
        using var refused = new CliProcess(Dll, "stream", "--server", $"127.0.0.1:{port}");
        Assert.Equal(2, await refused.WaitForExitAsync());
        Assert.Equal($"sentinel: cannot connect to 127.0.0.1:{port}: connection refused (is the agent running, and listening there?)", refused.Stderr);

        using var status = new CliProcess(Dll, "status", "--server", "nohost.invalid:50551");
        Assert.Equal(2, await status.WaitForExitAsync());
        Assert.Equal("sentinel: cannot connect to nohost.invalid:50551: name does not resolve", status.Stderr);

        using var socket = new CliProcess(Dll, "status", "--server", "unix:/nonexistent/agent.sock");
        Assert.Equal(2, await socket.WaitForExitAsync());
        Assert.Equal("sentinel: cannot connect to unix:/nonexistent/agent.sock: no such socket (is the agent listening there?)", socket.Stderr);

        // The address as the user typed it, not as normalized (the default port appended).
        using var malformed = new CliProcess(Dll, "status", "--server", "bad address::");
        Assert.Equal(2, await malformed.WaitForExitAsync());
        Assert.Equal("sentinel: bad --server 'bad address::' (expected HOST:PORT, https://HOST:PORT or unix:PATH)", malformed.Stderr);
    }

    [Fact]
    public async Task With_follow_a_refused_connection_is_retried_with_the_cause_on_each_line()
    {
        var port = ServerHarness.FreePort();
        using var tail = new CliProcess(Dll, "stream", "--server", $"127.0.0.1:{port}", "--follow");
        await tail.WaitForStderrAsync("reconnecting");
        Assert.StartsWith($"sentinel: cannot connect to 127.0.0.1:{port}: connection refused", tail.Stderr);
        Assert.DoesNotContain("subchannel", tail.Stderr);
    }
}

public sealed class TokenFileTests
{
    [Fact]
    public async Task Status_and_stream_read_the_token_from_a_file()
    {
        var dir = new TempDir();
        using var pki = new TestCertificates(dir);
        await using var server = await ServerHarness.StartAsync(o =>
        {
            o.TlsCertificatePath = pki.ServerCertPath; o.TlsKeyPath = pki.ServerKeyPath; o.Token = "s3cret-token";
        }, dir: dir);
        await server.EmitAsync(2);
        var address = new Uri(server.Address).Authority;
        var dll = RepoPaths.SentinelDll;
        var tokenFile = Path.Combine(dir.Path, "token");
        File.WriteAllText(tokenFile, "s3cret-token\n");
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        using var status = new CliProcess(dll, "status", "--server", address, "--ca", pki.CaPath, "--token-file", tokenFile, "--json");
        Assert.Equal(0, await status.WaitForExitAsync());
        Assert.Equal("", status.Stderr);
        using var stream = new CliProcess(dll, "stream", "--server", address, "--ca", pki.CaPath, "--token-file", tokenFile);
        Assert.Equal(0, await stream.WaitForExitAsync());
        Assert.Equal(2, stream.Lines.Count);

        File.WriteAllText(tokenFile, "wrong\n");
        using var wrong = new CliProcess(dll, "status", "--server", address, "--ca", pki.CaPath, "--token-file", tokenFile);
        Assert.Equal(2, await wrong.WaitForExitAsync());
        Assert.Contains("invalid bearer token", wrong.Stderr);

        File.WriteAllText(tokenFile, "\n");
        using var empty = new CliProcess(dll, "status", "--server", address, "--ca", pki.CaPath, "--token-file", tokenFile);
        Assert.Equal(2, await empty.WaitForExitAsync());
        Assert.Equal($"sentinel: {tokenFile}: the token file is empty (expected the token on its first line)", empty.Stderr);

        using var both = new CliProcess(dll, "stream", "--server", address, "--token", "x", "--token-file", tokenFile);
        Assert.Equal(2, await both.WaitForExitAsync());
        Assert.Contains("--token and --token-file both give the token", both.Stderr);

        using var missing = new CliProcess(dll, "status", "--server", address, "--token-file", Path.Combine(dir.Path, "nope"));
        Assert.Equal(2, await missing.WaitForExitAsync());
        Assert.StartsWith($"sentinel: cannot read the token file {Path.Combine(dir.Path, "nope")}", missing.Stderr);

        // A file that never ends is refused at its first 64 KiB, not read until memory runs out.
        using var endless = new CliProcess(dll, "status", "--server", address, "--token-file", "/dev/zero");
        Assert.Equal(2, await endless.WaitForExitAsync());
        Assert.Equal("sentinel: cannot read the token file /dev/zero: its first line is longer than 64 KiB: not a token", endless.Stderr);
    }
}

/// <summary>Folded detections through the real journal and stream; the same finding identity at replay and stream.</summary>
public sealed class FoldedJournalTests
{
    private static readonly RuleInfo FoldRule = new()
    {
        Id = "SNT-9001", Version = "1.0.0", Name = "folded", Description = "Folds per pid.", Severity = Severity.Low,
        MitreTactics = ["TA0005", "TA0004"], MitreTechniques = ["T1055"], Events = ["move_pages"], FoldKey = "pid",
        FoldWindow = TimeSpan.FromMinutes(10),
    };

    private sealed class EveryEvent : IDetector
    {
        public void Evaluate(MovePagesEvent evt, IDetectionSink sink) =>
            sink.OnDetection(new Detection { Rule = FoldRule, Time = evt.Time, Message = "call " + evt.Tid, Event = evt.Clone() });
    }

    [Fact]
    public async Task Repeats_held_at_shutdown_are_journaled_with_their_count_and_streamed_after_a_restart()
    {
        using var dir = new TempDir();
        var services = (Microsoft.AspNetCore.Builder.WebApplicationBuilder b) =>
        {
            var channel = new EventChannel();
            b.Services.AddSingleton(channel);
            b.Services.AddSingleton(sp => new EventPipeline([], new EveryEvent(), [], sp.GetServices<IDetectionSink>(),
                sp.GetRequiredService<ILogger<EventPipeline>>()));
            b.Services.AddHostedService<PipelineService>();
        };
        var first = await ServerHarness.StartAsync(services: services, dir: dir);
        var events = first.App.Services.GetRequiredService<EventChannel>();
        var start = DateTimeOffset.UtcNow;
        for (var i = 0; i < 7; i++)
        {
            var evt = events.Pool.Rent();
            evt.TimeUnixNs = start.AddMilliseconds(i * 10).ToUnixTimeMilliseconds() * 1_000_000;
            evt.Pid = 4242; evt.Tid = 5000 + i; evt.Comm = "burst";
            await events.Channel.Writer.WriteAsync(evt);
        }
        await first.WaitCommittedAsync(1);
        events.Channel.Writer.Complete(); // the source stops first, as capture does
        await first.App.StopAsync();       // the pipeline flushes its open fold into the journal before it stops
        await first.App.DisposeAsync();

        await using var second = await ServerHarness.StartAsync(dir: dir);
        using var call = second.Client().StreamDetections(new StreamDetectionsRequest());
        var stored = await call.ResponseStream.ReadAsync();
        Assert.Equal(2, stored.Count);
        Assert.Equal(1u, stored[0].FoldCount);
        Assert.Equal(6u, stored[1].FoldCount);
        var startMs = start.ToUnixTimeMilliseconds();
        Assert.Equal(startMs + 10, stored[1].FirstTime.ToDateTimeOffset().ToUnixTimeMilliseconds());
        Assert.Equal(startMs + 60, stored[1].LastTime.ToDateTimeOffset().ToUnixTimeMilliseconds());
        Assert.Equal("Folds per pid.", stored[1].RuleDescription);
        Assert.Equal(7u, stored.Aggregate(0u, (sum, d) => sum + d.FoldCount));

        // stream --format pretty and ocsf show it; ocsf's uid is what a replay of the same detection gives.
        var address = new Uri(second.Address).Authority;
        using var pretty = new CliProcess(RepoPaths.SentinelDll, "stream", "--server", address, "--after", "1", "--format", "pretty");
        Assert.Equal(0, await pretty.WaitForExitAsync());
        Assert.Contains(pretty.Lines, l => l.Trim().StartsWith("fold  ×6 repeats", StringComparison.Ordinal));
        Assert.DoesNotContain(pretty.Lines, l => l.Contains('\u001b')); // not a terminal: no colour

        using var ocsf = new CliProcess(RepoPaths.SentinelDll, "stream", "--server", address, "--format", "ocsf");
        Assert.Equal(0, await ocsf.WaitForExitAsync());
        var findings = ocsf.Lines.Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(6, (int)findings[1]["count"]!);
        Assert.Equal(["Defense Evasion", "Privilege Escalation"], findings[0]["finding_info"]!["attacks"]!.AsArray().Select(a => (string)a!["tactic"]!["name"]!));
        Assert.Equal("Folds per pid.", (string)findings[0]["finding_info"]!["analytic"]!["desc"]!);
        var replayed = Contracts.DetectionConverter.FromProto(stored[0]) with { Sequence = 0, Host = "elsewhere" };
        Assert.Equal((string)OcsfDetectionFormatter.ToJson(replayed)["finding_info"]!["uid"]!, (string)findings[0]["finding_info"]!["uid"]!);
    }
}
