using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Sentinel.Server;
using Sentinel.Server.Journal;
using Sentinel.V1;

namespace Sentinel.Fleet.Export;

/// <summary>
/// Publishes every committed detection, in journal order, to sentinel.v1.detections.&lt;host-id&gt; with
/// Nats-Msg-Id &lt;journal-id&gt;:&lt;seq&gt;. Many publishes are in flight at once; the acks are reaped in order and
/// the last contiguously acknowledged sequence is persisted in the journal as the export cursor. Any failure
/// (broker down, leader election, timeout) drops back to the cursor and republishes from there: JetStream's
/// duplicate window turns the repeats into duplicate acks, which count as success.
/// </summary>
public sealed class JournalExporter : IHostedService, IAgentStatusContributor, IAsyncDisposable
{
    private const int ReadBatch = 256;
    private static readonly TimeSpan PersistEvery = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ConfigRetry = TimeSpan.FromSeconds(30);

    private readonly DetectionJournal _journal;
    private readonly FleetConnection _nats;
    private readonly ExportOptions _options;
    private readonly ILogger _logger;
    private readonly string _subject;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private long _published, _errors;
    private string _lastError = "";
    private DateTimeOffset? _lastAckAt;
    private bool _provisioned;
    private TaskCompletionSource _caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public JournalExporter(DetectionJournal journal, FleetConnection nats, ExportOptions options, ILogger<JournalExporter>? logger = null)
    {
        _journal = journal;
        _nats = nats;
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _subject = FleetSubjects.Detections(journal.HostId);
        _journal.EnableExport();
    }

    public string Subject => _subject;
    public long Published => Interlocked.Read(ref _published);
    public long PublishErrors => Interlocked.Read(ref _errors);
    public ulong Cursor => _journal.ExportCursor ?? 0;

    /// <summary>How long the stop waits for the committed backlog to be acknowledged before leaving it for the next start.</summary>
    public TimeSpan DrainOnStop { get; init; } = TimeSpan.FromSeconds(3);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (HostIdentity.Problem(_journal.HostId) is { } problem) throw new FleetConfigurationException(problem);
        _nats.EnsureConnecting();
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_loop is null) return;
        // An orderly stop first tries to leave nothing behind; what remains is exported at the next start.
        if (_nats.IsConnected && Cursor < _journal.DurableLast)
        {
            using var drain = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            drain.CancelAfter(DrainOnStop);
            try { await WaitForCursorAsync(_journal.DurableLast, drain.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
        _stop.Cancel();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Completes once the export cursor has reached <paramref name="sequence"/>.</summary>
    public async Task WaitForCursorAsync(ulong sequence, CancellationToken cancellationToken)
    {
        while (Cursor < sequence)
        {
            Task signal;
            lock (_stop) signal = _caughtUp.Task;
            if (Cursor >= sequence) return;
            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var backoff = TimeSpan.FromMilliseconds(250);
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await _nats.WaitConnectedAsync(stop).ConfigureAwait(false);
                if (!_provisioned)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    timeout.CancelAfter(_options.AckTimeout);
                    await StreamProvisioner.EnsureDetectionsAsync(_nats.JetStream, _nats.Options.Stream, _options, timeout.Token).ConfigureAwait(false);
                    _provisioned = true;
                }
                await PumpAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (FleetConfigurationException ex) when (!stop.IsCancellationRequested)
            {
                // A misconfigured stream is the operator's to fix: said once, rechecked slowly, detection goes on.
                if (_lastError != ex.Message) _logger.LogError("export stopped: {Error}", ex.Message);
                _lastError = ex.Message;
                try { await Task.Delay(ConfigRetry, stop).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Interlocked.Increment(ref _errors);
                _lastError = ex.Message;
                _nats.OnDown(ex.Message);
                await _nats.ResetAsync().ConfigureAwait(false);
                try { await Task.Delay(backoff, stop).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                continue;
            }
            backoff = TimeSpan.FromMilliseconds(250);
        }
    }

    private static readonly TimeSpan DegradedPoll = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// No ack for this long with publishes in flight: stop sending until they are answered (or time out). A stream
    /// leader that dies takes what it had not replicated, and its successor is elected seconds later (NATS raft
    /// waits at least 2 s); anything sent after the election would be stored ahead of the lost detections'
    /// republish, out of the host's order. Well under the election time, so a dead leader stops the flow first.
    /// </summary>
    internal static readonly TimeSpan StallAfter = TimeSpan.FromMilliseconds(500);

    /// <summary>Publishes from the cursor on, until a publish fails (throws) or the agent stops.</summary>
    private async Task PumpAsync(CancellationToken stop)
    {
        // One subscription collects every ack (reply subject <inbox>.<sequence>): no request per publish. Not under the
        // client's own inbox prefix, which the client reserves for its request replies; still under _INBOX.>, the
        // subjects NATS permissions usually grant for replies.
        var connection = _nats.Connection;
        var inbox = $"_INBOX.sentinel-export-{Guid.NewGuid():N}.";
        var ackOpts = new NatsSubOpts { ChannelOpts = new NatsSubChannelOpts { Capacity = _options.MaxInFlight * 2, FullMode = BoundedChannelFullMode.Wait } };
        await using var acks = await connection.SubscribeCoreAsync<byte[]>(inbox + "*", opts: ackOpts, cancellationToken: stop).ConfigureAwait(false);
        var window = new AckWindow(_options.MaxInFlight);
        window.Reset(Cursor);
        _healthy = false; // the first ack after a failure says the broker is back
        var batch = new List<(ulong Sequence, byte[] Payload)>(ReadBatch);
        var persisted = Stopwatch.GetTimestamp();
        // Every publish of this pump goes over one unbroken link: what the old link lost must not be overtaken by
        // publishes the client makes after reconnecting on its own (it replays its buffer, then carries on).
        var link = _nats.Disconnects;
        try
        {
            while (true)
            {
                batch.Clear();
                // Never publish into a client that is reconnecting: it would buffer and replay out of order.
                if (!_nats.IsConnected || _nats.Disconnects != link) throw new NatsException("connection lost");
                if (window.Room > 0 && !window.Stalled(StallAfter) && !stop.IsCancellationRequested)
                {
                    // Only what is on disk: a degraded journal's detections in memory could be lost in a crash, and a
                    // later detection would then reuse their sequence, which JetStream would drop as a duplicate.
                    var durable = _journal.DurableLast;
                    _journal.ReadPayloadsAfter(window.Sent, Math.Min(ReadBatch, window.Room), batch);
                    var notOnDisk = batch.FindIndex(d => d.Sequence > durable);
                    if (notOnDisk >= 0) batch.RemoveRange(notOnDisk, batch.Count - notOnDisk);
                    // Retention pruned what follows the last sent (that loss is counted by the journal): skip the gap,
                    // once what is in flight is settled, so the window stays one contiguous run.
                    if (batch.Count > 0 && batch[0].Sequence > window.Sent + 1)
                    {
                        if (window.InFlight == 0) window.Reset(batch[0].Sequence - 1);
                        else batch.Clear();
                    }
                    for (var i = 1; i < batch.Count; i++)
                    {
                        if (batch[i].Sequence == batch[i - 1].Sequence + 1) continue;
                        batch.RemoveRange(i, batch.Count - i);
                        break;
                    }
                    foreach (var d in batch)
                    {
                        if (_nats.Disconnects != link) throw new NatsException("connection lost");
                        var headers = new NatsHeaders { ["Nats-Msg-Id"] = FleetSubjects.MessageId(_journal.JournalId, d.Sequence) };
                        await connection.PublishAsync(_subject, d.Payload, headers, inbox + d.Sequence.ToString(CultureInfo.InvariantCulture),
                            cancellationToken: stop).ConfigureAwait(false);
                        window.OnSent(d.Sequence);
                    }
                }
                while (acks.Msgs.TryRead(out var ack)) OnAck(ack, inbox, window);
                if (window.InFlight == 0)
                {
                    Persist(window.Acked);
                    stop.ThrowIfCancellationRequested();
                    var waitingForDisk = _journal.DurableLast <= window.Sent && window.Sent < _journal.Range.Last;
                    if (waitingForDisk) await Task.Delay(DegradedPoll, stop).ConfigureAwait(false);
                    else await _journal.WaitForCommitAsync(window.Sent, stop).ConfigureAwait(false);
                    continue;
                }
                // Wait for an ack when there is nothing new to send, the window is full or acks have stalled; bounded,
                // because a publish written just before a disconnect may never be answered.
                if (batch.Count == 0 || window.Room == 0)
                {
                    var left = _options.AckTimeout - window.OldestWait;
                    using var wait = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.Zero);
                    try
                    {
                        if (!await acks.Msgs.WaitToReadAsync(wait.Token).ConfigureAwait(false))
                            throw new NatsException("the acknowledgement subscription ended");
                    }
                    catch (OperationCanceledException) when (wait.IsCancellationRequested)
                    {
                        throw new TimeoutException($"no ack for detection {window.Acked + 1} within {_options.AckTimeout.TotalSeconds:0.#} s");
                    }
                }
                if (Stopwatch.GetElapsedTime(persisted) >= PersistEvery)
                {
                    Persist(window.Acked);
                    persisted = Stopwatch.GetTimestamp();
                }
            }
        }
        finally
        {
            // Let what is in flight settle before the republish from the cursor, so the old connection's last
            // publishes are stored (or not) before the new one sends anything. A late ack changes nothing: the cursor
            // only moves by contiguous acks, and the stream deduplicates the republish.
            using var settle = new CancellationTokenSource(_options.AckTimeout);
            try
            {
                while (window.InFlight > 0 && await acks.Msgs.WaitToReadAsync(settle.Token).ConfigureAwait(false))
                    while (acks.Msgs.TryRead(out var ack))
                        try { OnAck(ack, inbox, window); }
                        catch (NatsException) { }
            }
            catch (OperationCanceledException) { }
            Persist(window.Acked);
        }
    }

    private void OnAck(NatsMsg<byte[]> ack, string inbox, AckWindow window)
    {
        if (!ack.Subject.StartsWith(inbox, StringComparison.Ordinal) ||
            !ulong.TryParse(ack.Subject.AsSpan(inbox.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
            return;
        if (ack.HasNoResponders) throw new NatsJSException($"no stream takes {_subject} (no responders): is JetStream enabled and the stream there?");
        AckWindow.ThrowIfRefused(ack.Data, sequence);
        if (!window.OnAcked(sequence)) return;
        Interlocked.Increment(ref _published);
        _lastAckAt = DateTimeOffset.UtcNow;
        if (_healthy) return;
        _healthy = true;
        _lastError = "";
        _nats.OnHealthy();
    }

    private bool _healthy;

    private void Persist(ulong acked)
    {
        if (acked <= Cursor) return;
        _journal.SetExportCursor(acked);
        TaskCompletionSource signal;
        lock (_stop)
        {
            signal = _caughtUp;
            _caughtUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        signal.SetResult();
    }

    public void Contribute(AgentStatus status)
    {
        var range = _journal.Range;
        var cursor = Cursor;
        status.Export ??= new ExportStatus();
        var e = status.Export;
        e.Enabled = true;
        e.Servers.Clear();
        e.Servers.AddRange(_nats.Options.Servers);
        e.Connected = _nats.IsConnected;
        e.Stream = _nats.Options.Stream;
        e.Subject = _subject;
        e.AckedSequence = cursor;
        e.Backlog = range.Last > cursor ? range.Last - Math.Max(cursor, range.First - 1) : 0;
        e.LostToRetention = (ulong)_journal.ExportLost;
        e.Published = (ulong)Published;
        e.PublishErrors = (ulong)PublishErrors;
        e.LastError = _lastError;
        if (_lastAckAt is { } at) e.LastAckAt = Timestamp.FromDateTimeOffset(at);
    }

    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        // DI disposes an instance once per registration that hands it out (the service, the hosted service and
        // the status contributor are the same object), so this runs more than once.
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stop.Dispose();
    }
}
