using System.CommandLine;
using Grpc.Core;
using Sentinel.Contracts;
using Sentinel.V1;

namespace Sentinel.Cli;

/// <summary>`sentinel status --server ADDR [--json]`: probes, counters, rules, journal and stream clients.</summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print sentinel.v1.AgentStatus in the protobuf JSON mapping." };
        var command = new Command("status", "Show a running agent's status: probe strategy, counters, rules, journal and clients.") { json };
        ServerConnection.AddOptions(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var connection = ServerConnection.From(parse);
            AgentStatus status;
            try
            {
                status = await new DetectionService.DetectionServiceClient(connection.Channel)
                    .GetStatusAsync(new GetStatusRequest(), connection.Headers, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: cancellationToken);
            }
            catch (RpcException ex)
            {
                throw new CliException(connection.Describe(ex));
            }
            Console.Out.Write(parse.GetValue(json) ? EventJson.Format(status) + Environment.NewLine : Render(status));
            return ExitCodes.Ok;
        });
        return command;
    }

    public static string Render(AgentStatus s)
    {
        var w = new StringWriter();
        var hostId = ContractFields.String(s, "host_id");
        w.WriteLine($"agent     {s.Host}{(hostId.Length > 0 && hostId != s.Host ? $" ({hostId})" : "")}  sentinel {s.Version}  up since {s.StartedAt?.ToDateTimeOffset():u}");
        if (s.Listen.Count > 0) w.WriteLine($"listen    {string.Join(", ", s.Listen)}");
        w.WriteLine($"probes    {Strategy(s.Probes?.Strategy ?? AttachStrategy.Unspecified)}");
        foreach (var a in s.Probes?.Attempts ?? [])
            w.WriteLine($"          {Strategy(a.Strategy),-13} {(a.Attached ? "attached" : a.Error.Length > 0 ? "failed: " + a.Error : "not tried")}");
        var c = s.Counters ?? new Counters();
        w.WriteLine($"counters  events seen {c.EventsSeen}, lost in kernel {c.LostInKernel}, decode errors {c.DecodeErrors}, " +
                    $"processed {c.EventsProcessed}, detections {c.Detections}, sink errors {c.SinkErrors}");
        w.WriteLine($"folding   folded calls {c.FoldedCalls} in {c.FoldEvents} fold events, loss detections (SNT-0000) {c.LossDetections}");
        var j = s.Journal ?? new JournalStatus();
        var range = j.FirstSequence > j.LastSequence ? $"empty (next {j.LastSequence + 1})" : $"{j.FirstSequence}..{j.LastSequence}";
        var journalId = ContractFields.String(j, "journal_id");
        w.WriteLine($"journal   {j.Path}{(journalId.Length > 0 ? $"  id {journalId}" : "")}  sequences {range}  {j.SizeBytes / 1024.0:0.#} KiB  sync {j.SyncMode}  pruned {j.Pruned}");
        w.WriteLine(s.Response is { } r
            ? $"response  {r.Mode} on {r.Path}, {r.Policies} kernel policies, signalled {r.Signalled}, would kill {r.WouldKill}, " +
              $"rate limited {r.RateLimited}, protected {r.Protected} (max {r.KillsPerSecond}/s)"
            : "response  off (sentinel run --enforce turns it on)");
        foreach (var attempt in (s.Response?.Detail ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
            w.WriteLine($"          {attempt}");

        w.WriteLine();
        Table(w, ["RULE", "EVALS", "DETECTIONS", "ERRORS", "P50", "P99", "MAX", "STATE"],
            s.Rules.Select(r => new[]
            {
                r.RuleId, r.Evaluations.ToString(), r.Detections.ToString(), r.Errors.ToString(), Duration(r.LatencyP50Ns),
                Duration(r.LatencyP99Ns), Duration(r.LatencyMaxNs), r.Quarantined ? "quarantined: " + r.QuarantineReason : "active",
            }), "no rules reported");
        foreach (var error in s.RuleLoadErrors) w.WriteLine($"not loaded  {error}");
        w.WriteLine();
        Table(w, ["CLIENT", "KIND", "PEER", "IDENTITY", "SENT", "DROPPED", "LAST SEQ", "SINCE"],
            s.Clients.Select(x => new[]
            {
                x.Id.ToString(), x.Kind == StreamKind.Events ? "events" : "detections", x.Peer, x.Identity.Length > 0 ? x.Identity : "-",
                x.Sent.ToString(), x.Dropped.ToString(), x.Kind == StreamKind.Detections ? x.LastSequence.ToString() : "-",
                $"{x.ConnectedAt?.ToDateTimeOffset():u}",
            }), "no stream clients");
        return w.ToString();
    }

    internal static void Table(TextWriter w, string[] header, IEnumerable<string[]> rows, string empty)
    {
        var all = rows.ToList();
        if (all.Count == 0) { w.WriteLine(empty); return; }
        var widths = header.Select((h, i) => Math.Max(h.Length, all.Max(r => r[i].Length))).ToArray();
        w.WriteLine(string.Join("  ", header.Select((h, i) => h.PadRight(widths[i]))).TrimEnd());
        foreach (var r in all) w.WriteLine(string.Join("  ", r.Select((v, i) => v.PadRight(widths[i]))).TrimEnd());
    }

    private static string Strategy(AttachStrategy s) => s switch
    {
        AttachStrategy.Kprobe => "kprobe", AttachStrategy.Tracepoint => "tracepoint", AttachStrategy.RawSyscalls => "raw_syscalls",
        AttachStrategy.BtfRawTracepoint => "tp_btf", _ => "none",
    };

    private static string Duration(ulong ns) => ns switch
    {
        0 => "-", < 1_000 => $"{ns}ns", < 1_000_000 => $"{ns / 1e3:0.#}µs", _ => $"{ns / 1e6:0.##}ms",
    };
}
