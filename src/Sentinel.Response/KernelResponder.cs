using System.Text;
using Microsoft.Extensions.Logging;
using Sentinel.Events;
using Sentinel.Probes;
using Sentinel.Bpf.Native;
using Sentinel.Bpf;

namespace Sentinel.Response;

public enum ResponseMode
{
    Off = 0,
    Audit = 1,
    Enforce = 2,
}

/// <summary>How the kernel acts: refuse the call before it runs (kprobe + bpf_override_return); signal the caller
/// at sys_enter and refuse a killed caller's cross-process call at the task_movememory LSM hook; or signal only
/// (the call body still runs, but its result never reaches user space).</summary>
public enum ResponsePath
{
    KprobeOverride,
    LsmDeny,
    TracepointSignal,
}

public sealed class ResponseOptions
{
    public ResponseMode Mode { get; init; } = ResponseMode.Off;
    /// <summary>Kills (and signals) per second across the host; beyond it a response is reported, not taken.</summary>
    public uint KillsPerSecond { get; init; } = 20;
    public IReadOnlyList<string> AllowComms { get; init; } = [];
    /// <summary>Executables (matched by inode number).</summary>
    public IReadOnlyList<string> AllowExes { get; init; } = [];
    /// <summary>cgroup v2 directories, e.g. /sys/fs/cgroup/system.slice/sshd.service.</summary>
    public IReadOnlyList<string> AllowCgroups { get; init; } = [];
    public int AgentPid { get; init; } = Environment.ProcessId;
}

/// <summary>Thrown when enforcement was asked for and the kernel cannot provide it.</summary>
public sealed class ResponseUnavailableException(string message) : Exception(message);

/// <summary>One response taken or withheld in the kernel, decoded from the response ring.</summary>
public sealed record ResponseRecord(
    ulong TimeNs, ulong StartNs, int Pid, int Tid, uint Uid, uint Euid, int TargetPid, int Flags, ulong Count,
    ulong CapEffective, ulong MountNamespace, ulong CgroupId, string RuleId, ResponseSource Source,
    ResponseAction Action, ResponseResult Result, int Error, bool Compat, bool Denied, uint Generation, string Comm);

/// <summary>
/// The response programs (bpf/response.bpf.c), attached by the strongest path that loads and attaches. Policies
/// are swapped atomically: the inactive one of two sets is written, then one index flips.
/// </summary>
public sealed unsafe class KernelResponder : IDisposable
{
    public const string ObjectName = "response";

    internal static readonly Dictionary<ResponsePath, string[]> Programs = new()
    {
        [ResponsePath.KprobeOverride] = ["response_deny", "response_deny_compat"],
        [ResponsePath.LsmDeny] = ["response_enter", "response_enter_compat", "response_lsm_deny"],
        [ResponsePath.TracepointSignal] = ["response_enter", "response_enter_compat"],
    };

    public static IReadOnlyList<ResponsePath> DefaultOrder { get; } =
        [ResponsePath.KprobeOverride, ResponsePath.LsmDeny, ResponsePath.TracepointSignal];

    private readonly BpfObject _object;
    private readonly ResponseOptions _options;
    private readonly ILogger _logger;
    private readonly int _configFd, _setsFd, _verdictsFd, _graceFd, _graceInnerFd;
    private readonly Lock _lock = new();
    private readonly List<string> _ruleIds = [];
    private readonly Dictionary<string, uint> _ruleIndex = new(StringComparer.Ordinal);
    private readonly Dictionary<int, ulong> _marks = []; // pid → start ticks, of the processes marked now
    private readonly RingBufferReader _reader;
    private readonly Thread _thread;
    private volatile bool _stopping;
    private ResponseConfig _config;
    private uint _generation;
    private long _signalled, _wouldKill, _rateLimited, _protected;

    private KernelResponder(BpfObject obj, ResponsePath path, IReadOnlyList<string> attempts, ResponseOptions options, ILogger logger)
    {
        _object = obj;
        _logger = logger;
        _options = options;
        Path = path;
        Attempts = attempts;
        _configFd = obj.MapFd("resp_config");
        _setsFd = obj.MapFd("policy_sets");
        _verdictsFd = obj.MapFd("verdicts");
        _graceFd = obj.MapFd("grace");
        _graceInnerFd = obj.MapFd("grace_inner");
        _reader = new RingBufferReader(obj.MapFd("resp_events"), OnRecord);
        _thread = new Thread(Consume) { IsBackground = true, Name = "sentinel-response" };
    }

    public ResponsePath Path { get; }
    public ResponseMode Mode => _options.Mode;
    public uint KillsPerSecond => _options.KillsPerSecond;
    /// <summary>Why each path did or did not attach.</summary>
    public IReadOnlyList<string> Attempts { get; }
    public int InstalledPolicies { get; private set; }
    public (long Signalled, long WouldKill, long RateLimited, long Protected) Counters =>
        (Interlocked.Read(ref _signalled), Interlocked.Read(ref _wouldKill), Interlocked.Read(ref _rateLimited), Interlocked.Read(ref _protected));

    /// <summary>Raised on the response thread for every record; handlers must not block long.</summary>
    public event Action<ResponseRecord>? Responded;

    public static string PathName(ResponsePath path) => path switch
    {
        ResponsePath.KprobeOverride => "kprobe-override",
        ResponsePath.LsmDeny => "lsm-deny",
        _ => "tracepoint-signal",
    };

    /// <summary>Why the LSM path cannot work here before anything is loaded, or null to try it.</summary>
    internal static string? LsmUnavailable(string activeLsms = "/sys/kernel/security/lsm")
    {
        var lsms = File.Exists(activeLsms) ? File.ReadAllText(activeLsms).Trim() : null;
        if (lsms is null) return $"{activeLsms} is missing (securityfs not mounted?): cannot tell whether the BPF LSM is active";
        return lsms.Split(',').Contains("bpf") ? null : $"the BPF LSM is not active (active LSMs: {lsms}; boot with lsm=...,bpf)";
    }

    /// <summary>A load or attach failure of the LSM program, in words: EPERM is the kernel refusing LSM programs.</summary>
    internal static string LsmFailure(BpfException failure, string lockdownFile = "/sys/kernel/security/lockdown")
    {
        var error = failure.Message;
        if (failure.Errno != 1 /* EPERM */) return error;
        var lockdown = File.Exists(lockdownFile) ? File.ReadAllText(lockdownFile).Trim() : "";
        var mode = lockdown.IndexOf('[') is var open and >= 0 && lockdown.IndexOf(']', open) is var close and > 0
            ? lockdown[(open + 1)..close] : "";
        var why = mode is "" or "none" ? "" : $" (lockdown={mode})";
        return $"the kernel refuses BPF LSM programs{why}: {error}";
    }

    /// <summary>
    /// Loads and attaches the first path in <paramref name="order"/> that works. Refuses enforcement on a kernel
    /// without bpf_send_signal (audit needs no signal and is allowed).
    /// </summary>
    public static KernelResponder Attach(ResponseOptions options, ILogger logger, IReadOnlyList<ResponsePath>? order = null,
        Func<bool>? hasSendSignal = null)
    {
        if (options.Mode == ResponseMode.Off) throw new ArgumentException("enforcement is off: nothing to attach");
        if (options.Mode == ResponseMode.Enforce && !(hasSendSignal ?? NativeExtras.HasSendSignal)())
            throw new ResponseUnavailableException(
                "--enforce needs bpf_send_signal (Linux 5.3+), which this kernel does not offer to tracepoint programs; " +
                "use --enforce=audit to report would-be kills without acting");
        var objectPath = BpfObjectFiles.Path(ObjectName);
        var attempts = new List<string>();
        foreach (var path in order ?? DefaultOrder)
        {
            if (path == ResponsePath.LsmDeny && LsmUnavailable() is { } unavailable)
            {
                attempts.Add($"{PathName(path)}: {unavailable}");
                logger.LogInformation("response path {Path} skipped: {Reason}", PathName(path), unavailable);
                continue;
            }
            BpfObject? obj = null;
            try
            {
                obj = BpfObject.Open(objectPath);
                obj.SelectPrograms(Programs[path]);
                obj.Load();
                var responder = new KernelResponder(obj, path, attempts, options, logger);
                responder.Configure();
                foreach (var program in Programs[path]) obj.Attach(program);
                attempts.Add($"{PathName(path)}: attached");
                logger.LogInformation("move_pages response attached on the {Path} path", PathName(path));
                responder._thread.Start();
                return responder;
            }
            catch (BpfException ex)
            {
                obj?.Dispose();
                var reason = path == ResponsePath.LsmDeny ? LsmFailure(ex) : ex.Message;
                attempts.Add($"{PathName(path)}: {reason}");
                logger.LogInformation("response path {Path} failed: {Reason}", PathName(path), reason);
            }
        }
        throw new ResponseUnavailableException("no response path attached: " + string.Join("; ", attempts));
    }

    private void Configure()
    {
        _config = new ResponseConfig
        {
            Mode = (uint)_options.Mode,
            AgentPid = (uint)_options.AgentPid,
            HostMntNs = HostMountNamespace(),
            KillsPerSecond = _options.KillsPerSecond,
            LsmDeny = Path == ResponsePath.LsmDeny ? 1u : 0u,
        };
        WriteConfig();
        var commFd = _object.MapFd("allow_comm");
        var key = stackalloc byte[16];
        foreach (var comm in _options.AllowComms)
        {
            new Span<byte>(key, 16).Clear();
            var bytes = Encoding.UTF8.GetBytes(comm);
            if (bytes.Length is 0 or > 15) throw new ArgumentException($"allowlisted comm '{comm}' must be 1 to 15 bytes");
            bytes.CopyTo(new Span<byte>(key, 16));
            Update(commFd, key, 1);
        }
        foreach (var exe in _options.AllowExes) UpdateInode(_object.MapFd("allow_exe"), exe);
        foreach (var cgroup in _options.AllowCgroups) UpdateInode(_object.MapFd("allow_cgroup"), cgroup);
    }

    private static void UpdateInode(int fd, string path)
    {
        var inode = NativeExtras.Inode(path);
        Update(fd, &inode, 1);
    }

    private static void Update(int fd, void* key, byte value) => Check(Libbpf.bpf_map_update_elem(fd, key, &value, 0), "allowlist");

    /// <summary>The host is pid 1's mount namespace, or the agent's own where pid 1's is not readable (a
    /// sandboxed init refuses it even to root). stat through the nsfs link gives its inode number, which is the
    /// namespace's ns.inum that the kernel side compares.</summary>
    private static ulong HostMountNamespace()
    {
        try
        {
            return NativeExtras.Inode("/proc/1/ns/mnt");
        }
        catch (ArgumentException)
        {
            return NativeExtras.Inode("/proc/self/ns/mnt");
        }
    }

    private void WriteConfig()
    {
        var key = 0u;
        var config = _config;
        Check(Libbpf.bpf_map_update_elem(_configFd, &key, &config, 0), "config");
    }

    private uint RuleIndex(string ruleId)
    {
        if (_ruleIndex.TryGetValue(ruleId, out var index)) return index;
        index = (uint)_ruleIds.Count;
        _ruleIds.Add(ruleId);
        _ruleIndex[ruleId] = index;
        return index;
    }

    /// <summary>
    /// Replaces every installed policy at once: the next move_pages sees either the old set or the new one, never
    /// a mix. An empty list removes them all.
    /// </summary>
    /// <remarks>
    /// Reloads are serialised by a lock, and each one returns only after every BPF run that could have read the
    /// set it retired has finished (<see cref="WaitForRunningPrograms"/>). So the set the next reload overwrites
    /// is read by no run, even when reloads follow each other faster than one run lasts.
    /// </remarks>
    public void Install(IReadOnlyList<InstalledPolicy> policies)
    {
        lock (_lock)
        {
            var entries = policies.Select(p => PolicyCompiler.Compile(p.When, p.Action, RuleIndex(p.RuleId))).ToList();
            var set = PolicyCompiler.CompileSet(entries, ++_generation);
            var inactive = _config.Active ^ 1;
            Check(Libbpf.bpf_map_update_elem(_setsFd, &inactive, &set, 0), "policy set");
            _config.Active = inactive;
            _config.Policies = (uint)entries.Count;
            WriteConfig();
            WaitForRunningPrograms();
            InstalledPolicies = entries.Count;
            Generation = _generation;
        }
    }

    /// <summary>The generation of the installed set (1 after the first install); records carry it.</summary>
    public uint Generation { get; private set; }

    /// <summary>
    /// Returns once every BPF program run that started before the call has finished. Updating a map-in-map
    /// makes the kernel wait for that (synchronize_rcu in the bpf(2) update path), and BPF tracing and LSM
    /// programs run inside RCU read-side sections.
    /// </summary>
    private void WaitForRunningPrograms()
    {
        var key = 0u;
        var inner = _graceInnerFd;
        Check(Libbpf.bpf_map_update_elem(_graceFd, &key, &inner, 0), "grace");
    }

    /// <summary>
    /// Marks a process (pid + start time from /proc, so a reused pid is never hit): its next move_pages gets
    /// <paramref name="action"/>. False if the process is gone.
    /// </summary>
    public bool Mark(int pid, ResponseAction action, string ruleId)
    {
        if (!ProcessStart.TryRead(pid, out var ticks)) return false;
        lock (_lock)
        {
            var key = (uint)pid;
            var verdict = new VerdictEntry { StartTicks = ticks, Action = (uint)action.Kind, Signal = (uint)action.SignalNumber, Rule = RuleIndex(ruleId) };
            Check(Libbpf.bpf_map_update_elem(_verdictsFd, &key, &verdict, 0), "verdict");
            _marks[pid] = ticks;
            if (_config.Verdicts == 0)
            {
                _config.Verdicts = 1;
                WriteConfig();
            }
        }
        return true;
    }

    /// <summary>Processes marked and still alive (a zombie counts until it is reaped).</summary>
    internal int Marked
    {
        get { lock (_lock) return _marks.Count; }
    }

    /// <summary>Whether the kernel side does the verdict lookup on every call (the config's verdicts flag).</summary>
    internal bool VerdictLookupOn
    {
        get
        {
            var key = 0u;
            ResponseConfig config;
            Check(Libbpf.bpf_map_lookup_elem(_configFd, &key, &config), "config");
            return config.Verdicts != 0;
        }
    }

    /// <summary>
    /// Drops the marks of processes that are gone (killed, exited, or their pid reused); once none is left, calls
    /// skip the verdict lookup again, so one kill does not cost every later call a hash lookup.
    /// </summary>
    private void PruneMarks()
    {
        lock (_lock)
        {
            if (_marks.Count == 0) return;
            foreach (var (pid, ticks) in _marks.ToArray())
            {
                if (ProcessStart.TryRead(pid, out var now) && now == ticks) continue;
                var key = (uint)pid;
                NativeExtras.bpf_map_delete_elem(_verdictsFd, &key); // already gone from the LRU map is fine
                _marks.Remove(pid);
            }
            if (_marks.Count == 0 && _config.Verdicts != 0)
            {
                _config.Verdicts = 0;
                WriteConfig();
            }
        }
    }

    /// <summary>For tests: rewrites a mark's start time, as if its process had died and the pid been reused.</summary>
    internal void ForgeVerdictStart(int pid, ulong startTicks)
    {
        var key = (uint)pid;
        VerdictEntry verdict;
        Check(Libbpf.bpf_map_lookup_elem(_verdictsFd, &key, &verdict), "verdict");
        verdict.StartTicks = startTicks;
        Check(Libbpf.bpf_map_update_elem(_verdictsFd, &key, &verdict, 0), "verdict");
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0) throw new BpfException(BpfErrorKind.Map, rc, $"updating the response {what} map: {Libbpf.ErrorMessage(rc)}");
    }

    private void Consume() => RingBufferLoop.Run(_reader, DrainSchedule.Every(100), () => _stopping, afterDrain: PruneMarks,
        onWaitError: error => _logger.LogWarning("response: waiting on the ring buffer failed: {Error}", error));

    private void OnRecord(ReadOnlySpan<byte> data)
    {
        if (data.Length < sizeof(RawResponseEvent)) return;
        RawResponseEvent raw;
        fixed (byte* p = data) raw = *(RawResponseEvent*)p;
        if (raw.Magic != ResponseHeader.RespMagic) return;
        var result = (ResponseResult)raw.Result;
        switch (result)
        {
            case ResponseResult.Signalled: Interlocked.Increment(ref _signalled); break;
            case ResponseResult.WouldKill: Interlocked.Increment(ref _wouldKill); break;
            case ResponseResult.RateLimited: Interlocked.Increment(ref _rateLimited); break;
            case ResponseResult.Protected: Interlocked.Increment(ref _protected); break;
        }
        string ruleId;
        lock (_lock) ruleId = raw.Rule < _ruleIds.Count ? _ruleIds[(int)raw.Rule] : "";
        var comm = Encoding.UTF8.GetString(new ReadOnlySpan<byte>(raw.Comm, 16)).TrimEnd('\0');
        var action = (ResponseKind)raw.Action switch
        {
            ResponseKind.Kill => ResponseAction.Kill,
            ResponseKind.Signal => ResponseAction.Signal((int)raw.Signal),
            _ => ResponseAction.Audit,
        };
        Responded?.Invoke(new ResponseRecord(raw.TimeNs, raw.StartNs, (int)raw.Pid, (int)raw.Tid, raw.Uid, raw.Euid,
            raw.TargetPid, raw.Flags, raw.Count, raw.CapEffective, raw.MntNs, raw.CgroupId, ruleId,
            (ResponseSource)raw.Source, action, result, raw.Error, raw.Compat != 0, raw.Denied != 0, raw.Generation, comm));
    }

    public void Dispose()
    {
        _stopping = true;
        _object.Detach();
        if (_thread.IsAlive) _thread.Join();
        _reader.Dispose();
        _object.Dispose();
    }
}

/// <summary>A process's start time as /proc/&lt;pid&gt;/stat gives it (field 22, clock ticks since boot).</summary>
internal static class ProcessStart
{
    public static bool TryRead(int pid, out ulong ticks)
    {
        ticks = 0;
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return false; }
        // comm (field 2) may hold spaces and parentheses: count fields after the last ')'.
        var rest = stat.AsSpan(stat.LastIndexOf(')') + 2);
        for (var field = 3; field < 22; field++)
        {
            var space = rest.IndexOf(' ');
            if (space < 0) return false;
            rest = rest[(space + 1)..];
        }
        var end = rest.IndexOf(' ');
        return ulong.TryParse(end < 0 ? rest : rest[..end], out ticks);
    }
}
