using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Sentinel.Events;
using Sentinel.TestSupport;

namespace Sentinel.Formats.Tests;

/// <summary>A private rsyslogd on loopback (imudp + imtcp) that writes what it parsed, field by field, to a file.</summary>
public sealed class Rsyslog : IDisposable
{
    public static string? Binary => RepoPaths.SystemTool("rsyslogd");
    private readonly ChildProcess _process;

    public Rsyslog(int? tcpPort = null)
    {
        Dir = Directory.CreateTempSubdirectory("sentinel-rsyslog-").FullName;
        UdpPort = FreePort(SocketType.Dgram, ProtocolType.Udp);
        TcpPort = tcpPort ?? FreePort(SocketType.Stream, ProtocolType.Tcp);
        Output = Path.Combine(Dir, "out.log");
        var config = Path.Combine(Dir, "rsyslog.conf");
        // Each property rsyslog parsed from the RFC 5424 header, so the test sees rsyslog's reading, not our bytes.
        File.WriteAllText(config, $"""
            global(workDirectory="{Dir}")
            module(load="imudp")
            module(load="imtcp")
            input(type="imudp" port="{UdpPort}" address="127.0.0.1")
            input(type="imtcp" port="{TcpPort}" address="127.0.0.1")
            template(name="fields" type="string" string="%protocol-version%|%pri%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\n")
            *.* action(type="omfile" file="{Output}" template="fields")
            """);
        _process = new ChildProcess(Binary ?? throw new InvalidOperationException("rsyslogd is not installed"),
            ["-n", "-f", config, "-i", Path.Combine(Dir, "rsyslog.pid")], "rsyslogd");
        WaitForTcp();
    }

    public string Dir { get; }
    public int UdpPort { get; }
    public int TcpPort { get; }
    public string Output { get; }

    public static bool Installed => Binary is not null;

    /// <summary>Lines rsyslog wrote that contain <paramref name="marker"/>, once there are <paramref name="count"/>.</summary>
    public async Task<string[]> WaitForLinesAsync(string marker, int count)
    {
        string[] lines = [];
        await Wait.UntilAsync(async () =>
        {
            lines = File.Exists(Output) ? (await File.ReadAllLinesAsync(Output)).Where(l => l.Contains(marker)).ToArray() : [];
            return lines.Length >= count;
        }, $"rsyslog to write {count} lines with {marker}", 60, () => $"it wrote {lines.Length}");
        return lines;
    }

    private void WaitForTcp() => _process.WaitUntil(() =>
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, TcpPort);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }, $"rsyslogd to accept TCP on {TcpPort}", 60);

    public static int FreePort(SocketType type, ProtocolType protocol)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, type, protocol);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public void Dispose()
    {
        _process.Dispose();
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}

public sealed class SyslogTests : IClassFixture<SyslogTests.RsyslogFixture>
{
    public sealed class RsyslogFixture : IDisposable
    {
        public Rsyslog Server { get; } = new();
        public void Dispose() => Server.Dispose();
    }

    private readonly Rsyslog _rsyslog;

    public SyslogTests(RsyslogFixture fixture) => _rsyslog = fixture.Server;

    [Theory]
    [InlineData("tcp")]
    [InlineData("udp")]
    public async Task Cef_over_rfc5424_reaches_rsyslog_parsed_field_by_field(string transport)
    {
        var marker = $"marker-{transport}-{Guid.NewGuid():N}";
        var port = transport == "tcp" ? _rsyslog.TcpPort : _rsyslog.UdpPort;
        await using (var sink = new SyslogDetectionSink(SyslogTarget.Parse($"{transport}://127.0.0.1:{port}")))
        {
            sink.OnDetection(Samples.Detection(Severity.Critical, message: $"{marker} first\nsecond k=v", sequence: 7));
            sink.OnDetection(Samples.Detection(Severity.Low, message: marker + " low", sequence: 8));
        }

        var lines = await _rsyslog.WaitForLinesAsync(marker, 2);
        var first = lines.Single(l => l.Contains("seq=\"7\"")).Split('|', 8);
        Assert.Equal("1", first[0]);                          // RFC 5424 version
        Assert.Equal((16 * 8 + 2).ToString(), first[1]);     // local0.crit
        Assert.Equal("numa-01", first[2]);
        Assert.Equal("sentinel", first[3]);
        Assert.Equal(Environment.ProcessId.ToString(), first[4]);
        Assert.Equal("detection", first[5]);
        Assert.Equal("[sentinel@32473 rule=\"SNT-0002\" seq=\"7\"]", first[6]);
        Assert.StartsWith("CEF:0|Sentinel|Sentinel|", first[7]);
        Assert.Contains($@"msg={marker} first\nsecond k\=v ", first[7]);
        Assert.Contains("|10|", first[7]);
        Assert.Equal((16 * 8 + 5).ToString(), lines.Single(l => l.Contains("seq=\"8\"")).Split('|')[1]); // local0.notice
    }

    [Fact]
    public async Task A_collector_that_is_down_at_first_gets_the_queued_detections_once_it_listens()
    {
        var port = Rsyslog.FreePort(SocketType.Stream, ProtocolType.Tcp); // nothing listens here yet
        var marker = "late-" + Guid.NewGuid().ToString("N");
        await using var sink = new SyslogDetectionSink(SyslogTarget.Parse($"tcp://127.0.0.1:{port}"));
        for (var i = 1; i <= 3; i++) sink.OnDetection(Samples.Detection(message: marker, sequence: (ulong)i));
        await Wait.UntilAsync(() => sink.Errors > 0, "the sink to count an error");
        Assert.Equal(0, sink.Sent);

        using var late = new Rsyslog(port);
        var lines = await late.WaitForLinesAsync(marker, 3);
        Assert.Equal(["1", "2", "3"], lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, "seq=\"(\\d+)\"").Groups[1].Value));
        Assert.Equal(0, sink.Dropped);
    }

    [Fact]
    public async Task A_message_in_flight_when_the_queue_overflows_is_sent_once_and_every_newer_one_kept()
    {
        // A FIFO nobody reads yet: the sender blocks opening it, holding the first message, while the queue overflows.
        var dir = Directory.CreateTempSubdirectory("sentinel-fifo-").FullName;
        var fifo = Path.Combine(dir, "collector");
        await ChildProcess.RunAsync("mkfifo", [fifo]);
        Assert.True(File.Exists(fifo), "mkfifo failed");
        const int extra = 100;
        await using var sink = new SyslogDetectionSink(SyslogTarget.Parse("file:" + fifo));
        sink.OnDetection(Samples.Detection(message: "m0", sequence: 1));
        await Wait.UntilAsync(() => sink.Queued == 0, "the sender to take the queued message"); // taken by the sender, which now waits for a reader
        for (var i = 1; i <= SyslogDetectionSink.Capacity + extra; i++)
            sink.OnDetection(Samples.Detection(message: "m" + i, sequence: (ulong)(i + 1)));
        Assert.Equal(extra, sink.Dropped);

        var expected = SyslogDetectionSink.Capacity + 1;
        var lines = await Task.Run(() =>
        {
            using var reader = new StreamReader(new FileStream(fifo, FileMode.Open, FileAccess.Read));
            var read = new List<string>();
            while (read.Count < expected && reader.ReadLine() is { } line) read.Add(line);
            return read;
        }).WaitAsync(TimeSpan.FromSeconds(60));

        var sequences = lines.Select(l => ulong.Parse(Regex.Match(l, "seq=\"(\\d+)\"").Groups[1].Value)).ToList();
        // The one in flight, then exactly the newest Capacity, in order: nothing unsent was discarded.
        Assert.Equal([1UL, .. Enumerable.Range(extra + 2, SyslogDetectionSink.Capacity).Select(i => (ulong)i)], sequences);
        await Wait.UntilAsync(() => sink.Sent == expected, $"{expected} messages sent");
        Assert.Equal(extra, sink.Dropped);
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task File_target_writes_one_message_a_line_in_any_format()
    {
        var path = Path.Combine(_rsyslog.Dir, "detections.log");
        await using (var sink = new SyslogDetectionSink(SyslogTarget.Parse("file:" + path), DetectionFormats.Get("ocsf")))
        {
            sink.OnDetection(Samples.Detection());
            sink.OnDetection(Samples.Detection(sequence: 43));
        }
        var lines = await File.ReadAllLinesAsync(path);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("<131>1 2025-10-09T08:53:20.123000Z numa-01 sentinel ", lines[0]);
        var json = lines[1][(lines[1].IndexOf("] ", StringComparison.Ordinal) + 2)..];
        Assert.Equal(2004, (int)System.Text.Json.Nodes.JsonNode.Parse(json)!["class_uid"]!);
    }

    [Theory]
    [InlineData("10.0.0.5:1514", SyslogTransport.Udp, "10.0.0.5", 1514)]
    [InlineData("tcp://siem.local:6514", SyslogTransport.Tcp, "siem.local", 6514)]
    [InlineData("udp://[::1]:514", SyslogTransport.Udp, "::1", 514)]
    [InlineData("siem", SyslogTransport.Udp, "siem", 514)]
    public void Targets_parse(string text, SyslogTransport transport, string host, int port) =>
        Assert.Equal(new SyslogTarget(transport, host, port, null), SyslogTarget.Parse(text));

    [Theory]
    [InlineData("tcp://host:notaport")]
    [InlineData("host:70000")]
    [InlineData("file:")]
    public void Bad_targets_are_rejected_with_the_expected_forms(string text) =>
        Assert.Contains("expected HOST:PORT", Assert.Throws<ArgumentException>(() => SyslogTarget.Parse(text)).Message);
}
