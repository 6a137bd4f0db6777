using Microsoft.Extensions.Logging;
using Sentinel.Events;
using Sentinel.Rules;

namespace Sentinel.Response;

/// <summary>
/// Connects the kernel response to the agent: installs the rules' kernel policies (again on every reload), marks
/// the callers of Response = Kill detections, and turns every response the kernel reports into a detection with
/// its remediation, published to <see cref="Publish"/> (the journal, when serving).
/// </summary>
public sealed class ResponseCoordinator : IDetectionSink, IDisposable
{
    private readonly KernelResponder _responder;
    private readonly RuleEngine? _rules;
    private readonly ILogger _logger;
    private readonly long _monotonicToUnixNs;

    public ResponseCoordinator(KernelResponder responder, RuleEngine? rules, ILogger logger)
    {
        _responder = responder;
        _rules = rules;
        _logger = logger;
        // The kernel stamps records with CLOCK_MONOTONIC; detections carry wall-clock time.
        _monotonicToUnixNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 - MonotonicNs();
        responder.Responded += OnResponse;
        if (rules is null) return;
        InstallPolicies();
        rules.Reloaded += _ => InstallPolicies();
    }

    private readonly System.Collections.Concurrent.ConcurrentQueue<Detection> _early = new();
    private IDetectionSink? _publish;

    /// <summary>Where the response detections go. Those reported before it is set are kept and handed over then.</summary>
    public IDetectionSink? Publish
    {
        get => _publish;
        set
        {
            _publish = value;
            while (value is not null && _early.TryDequeue(out var early)) value.OnDetection(early);
        }
    }

    public KernelResponder Responder => _responder;

    /// <summary>The kernel policies of the rules loaded now.</summary>
    public static IReadOnlyList<InstalledPolicy> PoliciesOf(IEnumerable<RuleInfo> rules) =>
        rules.Where(r => r.Response?.When is not null)
             .Select(r => new InstalledPolicy(r.Id, r.Response!.When!, r.Response.Action))
             .ToArray();

    private void InstallPolicies()
    {
        try
        {
            // The reload's own rules: Rules would still give the previous set until the pipeline's next event.
            var policies = PoliciesOf(_rules!.LatestRules);
            _responder.Install(policies);
            _logger.LogInformation("{Count} kernel policies installed (generation {Generation}){List}", policies.Count,
                _responder.Generation, string.Concat(policies.Select(p => $"; {p.RuleId} {p.Action}")));
        }
        catch (Exception ex) when (ex is ArgumentException or Sentinel.Bpf.BpfException)
        {
            // The previous set stays live: a bad reload never leaves the host without its policies.
            _logger.LogError("kernel policies not updated, the previous ones stay: {Reason}", ex.Message);
        }
    }

    /// <summary>The verdict path: a detection of a Response = Kill rule marks its caller.</summary>
    public void OnDetection(Detection detection)
    {
        if (detection.Remediation is not null || detection.Rule.Response is not { OnDetection: true } response) return;
        if (_responder.Mark(detection.Event.Pid, response.Action, detection.Rule.Id))
            _logger.LogInformation("{Rule}: marked pid {Pid} for {Action} at its next move_pages", detection.Rule.Id, detection.Event.Pid, response.Action);
        else
            _logger.LogInformation("{Rule}: pid {Pid} exited before it could be marked", detection.Rule.Id, detection.Event.Pid);
    }

    private void OnResponse(ResponseRecord r)
    {
        var rule = _rules?.LatestRules.FirstOrDefault(x => x.Id == r.RuleId)
                   ?? new RuleInfo { Id = r.RuleId, Version = "", Name = "in-kernel response", Severity = Severity.High };
        var (result, verb) = r.Result switch
        {
            ResponseResult.Signalled => ("signalled", r.Action.Kind == ResponseKind.Kill ? "killed" : $"sent signal {r.Action.SignalNumber} to"),
            ResponseResult.SignalFailed => ("signal_failed", $"failed (error {r.Error}) to {r.Action}"),
            ResponseResult.WouldKill => ("would_kill", r.Action.Kind == ResponseKind.Audit ? "audited" : $"would {r.Action}"),
            ResponseResult.RateLimited => ("rate_limited", $"did not {r.Action} (kill rate limit reached)"),
            _ => ("protected", $"spared (pid 1, the agent or allowlisted) instead of {r.Action}"),
        };
        var path = r.Source == ResponseSource.Verdict ? "verdict" : "policy";
        var how = r.Denied ? "; the call was refused with EPERM before it ran" : "";
        var evt = new MovePagesEvent
        {
            TimeUnixNs = (long)r.TimeNs + _monotonicToUnixNs, Pid = r.Pid, Tid = r.Tid, Uid = r.Uid, Euid = r.Euid,
            CapEffective = r.CapEffective, Comm = r.Comm, MountNamespace = r.MountNamespace, CgroupId = r.CgroupId,
            Compat = r.Compat, TargetPid = r.TargetPid, Count = r.Count, Flags = r.Flags,
        };
        var detection = new Detection
        {
            Rule = rule,
            Time = DateTimeOffset.FromUnixTimeMilliseconds(evt.TimeUnixNs / 1_000_000),
            Message = $"{verb} {r.Comm} ({r.Pid}, uid {r.Uid}) at move_pages entry, on {rule.Id}'s {path}{how}",
            Fields = new Dictionary<string, string>
            {
                ["response.action"] = r.Action.ToString(), ["response.result"] = result, ["response.path"] = path,
                ["response.mode"] = _responder.Mode == ResponseMode.Audit ? "audit" : "enforce",
                ["response.kernel_path"] = KernelResponder.PathName(_responder.Path),
                ["response.denied"] = r.Denied ? "true" : "false",
                ["response.process_start_ns"] = r.StartNs.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["response.policy_generation"] = r.Generation.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
            Event = evt,
            Remediation = new Remediation(r.Action.ToString(), result, path, KernelResponder.PathName(_responder.Path) + how),
        };
        if (_publish is not { } publish)
        {
            _early.Enqueue(detection);
            return;
        }
        try { publish.OnDetection(detection); }
        catch (Exception ex) { _logger.LogError(ex, "a response detection could not be published"); }
    }

    private static long MonotonicNs() => (long)(System.Diagnostics.Stopwatch.GetTimestamp() * (1e9 / System.Diagnostics.Stopwatch.Frequency));

    public void Dispose() => _responder.Dispose();
}
