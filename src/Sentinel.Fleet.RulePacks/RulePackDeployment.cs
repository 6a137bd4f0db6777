using Microsoft.Extensions.Logging;
using Sentinel.Rules;

namespace Sentinel.Fleet.RulePacks;

/// <summary>What an agent reports about its pack: the one it runs, and the last one it refused.</summary>
public sealed record RulePackState(string Version, string Hash, DateTimeOffset? Created, string? RejectedVersion, string? RejectedReason);

public enum RulePackOutcome { Applied, Unchanged, Rejected }

/// <summary>
/// The agent side of rule packs, on disk under its state directory:
/// <code>
/// STATE/current        → packs/VERSION-HASH  (a symlink, swapped by rename: the rule engine's directory)
/// STATE/packs/…        the unpacked pack the agent runs (and an empty one before the first pack)
/// STATE/last-good.pack the signed pack it runs, re-verified and unpacked at start, so a restart with the
///                      broker down runs it again
/// </code>
/// A pack is verified before anything is unpacked, then adopted whole by an all-or-nothing engine reload; one
/// that fails to compile here is refused and the previous pack keeps running.
/// </summary>
public sealed partial class RulePackDeployment : IRulePackInfo
{
    private const string NoPack = "none";
    private readonly string _state;
    private readonly IReadOnlyList<RulePackPublicKey> _trusted;
    private readonly long _maxBytes;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private RuleEngine? _engine;
    private volatile RulePackState _current = new(NoPack, "", null, null, null);
    private string? _lastRejectedDigest;

    public RulePackDeployment(string stateDirectory, IReadOnlyList<RulePackPublicKey> trusted, ILogger logger, long maxBytes = RulePack.DefaultMaxBytes)
    {
        _state = Path.GetFullPath(stateDirectory);
        _trusted = trusted;
        _maxBytes = maxBytes;
        _logger = logger;
    }

    /// <summary>The directory the rule engine loads: a symlink to the running pack.</summary>
    public string ActivePath => Path.Combine(_state, "current");
    public long MaxBytes => _maxBytes;
    public RulePackState State => _current;
    public string Version => _current.Version;
    public string Hash => _current.Hash;
    private string LastGood => Path.Combine(_state, "last-good.pack");

    /// <summary>
    /// Points <see cref="ActivePath"/> at the last good pack (verified again, with today's keys) or at an empty
    /// directory; call before the engine loads it. Returns what runs.
    /// </summary>
    public RulePackState Restore()
    {
        Directory.CreateDirectory(Path.Combine(_state, "packs"));
        var empty = Path.Combine(_state, "packs", "empty");
        Directory.CreateDirectory(empty);
        string? rejected = null;
        if (File.Exists(LastGood))
        {
            try
            {
                var pack = RulePack.Verify(File.ReadAllBytes(LastGood), _trusted, _maxBytes);
                var dir = PackDirectory(pack);
                RulePack.Extract(pack, dir);
                PointAt(dir);
                _current = new RulePackState(pack.Version, pack.Hash, pack.Manifest.Created, null, null);
                return _current;
            }
            catch (Exception ex) when (ex is RulePackException or IOException or UnauthorizedAccessException)
            {
                rejected = $"the last good pack on disk was refused: {ex.Message}";
                _logger.LogError("rule pack: {Reason}; running no rules until a good pack arrives", rejected);
            }
        }
        PointAt(empty);
        _current = new RulePackState(NoPack, "", null, rejected is null ? null : "last-good", rejected);
        return _current;
    }

    /// <summary>The engine loaded from <see cref="ActivePath"/>; packs are applied to it from now on.</summary>
    public void Attach(RuleEngine engine) => _engine = engine;

    /// <summary>Refuses a pack without reading it (e.g. its stored size is over the limit).</summary>
    public void Reject(string? version, string reason)
    {
        lock (_lock) RecordRejection(version, reason, digest: null);
    }

    /// <summary>Verifies, unpacks and adopts a pack, or refuses it with the reason (also in <see cref="State"/>).</summary>
    public RulePackOutcome Apply(byte[] bytes)
    {
        var engine = _engine ?? throw new InvalidOperationException("Attach the rule engine first");
        lock (_lock)
        {
            var digest = RulePack.Sha256(bytes);
            if (digest == _lastRejectedDigest) return RulePackOutcome.Rejected; // the same bytes again: said once already
            VerifiedRulePack pack;
            try
            {
                pack = RulePack.Verify(bytes, _trusted, _maxBytes);
            }
            catch (RulePackException ex)
            {
                RecordRejection(ex.ClaimedVersion, ex.Message, digest);
                return RulePackOutcome.Rejected;
            }
            var running = _current;
            if (pack.Version == running.Version && pack.Hash == running.Hash) return RulePackOutcome.Unchanged;
            if (running.Created is { } created && pack.Manifest.Created < created)
            {
                RecordRejection(pack.Version, $"older than the running pack {running.Version} (created {pack.Manifest.Created:u} < {created:u}): " +
                                              "a replay? To roll back, push the old rules again as a new version", digest);
                return RulePackOutcome.Rejected;
            }

            var dir = PackDirectory(pack);
            var previous = File.ResolveLinkTarget(ActivePath, returnFinalTarget: false)?.FullName;
            RuleReloadResult result;
            try
            {
                RulePack.Extract(pack, dir);
                PointAt(dir);
                result = engine.Reload(allOrNothing: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                if (previous is not null) PointAt(previous);
                RecordRejection(pack.Version, $"cannot unpack under {_state}: {ex.Message}", digest);
                return RulePackOutcome.Rejected;
            }
            if (result.Rejected)
            {
                if (previous is not null) PointAt(previous);
                TryDelete(dir);
                var errors = result.Diagnostics.Where(d => d.IsError).ToList();
                RecordRejection(pack.Version, $"does not compile on this agent ({errors.Count} error(s)): " +
                                              string.Join("; ", errors.Take(3).Select(d => $"{Path.GetFileName(d.File)}:{d.Line}: {d.Message}")), digest);
                return RulePackOutcome.Rejected;
            }
            WriteLastGood(bytes);
            _current = new RulePackState(pack.Version, pack.Hash, pack.Manifest.Created, null, null);
            _lastRejectedDigest = null;
            foreach (var old in Directory.EnumerateDirectories(Path.Combine(_state, "packs")))
                if (Path.GetFileName(old) != "empty" && old != dir) TryDelete(old);
            _logger.LogInformation("rule pack {Version} applied (sha256 {Hash}, signed by key {Key}): {Rules} rules, generation {Generation}; was {Previous}",
                pack.Version, pack.Hash, pack.SignerKeyId, pack.Files.Count(f => f.Name.EndsWith(".csx", StringComparison.Ordinal)), result.Generation, running.Version);
            return RulePackOutcome.Applied;
        }
    }

    private void RecordRejection(string? version, string reason, string? digest)
    {
        _lastRejectedDigest = digest;
        var running = _current;
        _current = running with { RejectedVersion = version ?? "unknown", RejectedReason = reason };
        _logger.LogError("rule pack {Version} refused: {Reason}; pack {Running} keeps running", version ?? "unknown", reason, running.Version);
    }

    private string PackDirectory(VerifiedRulePack pack) => Path.Combine(_state, "packs", $"{pack.Version}-{pack.Hash[..12]}");

    /// <summary>Swaps the symlink by rename(2): readers see the old target or the new one.</summary>
    private void PointAt(string directory)
    {
        var temp = ActivePath + ".new";
        File.Delete(temp); // a leftover of a crash; no error when there is none
        File.CreateSymbolicLink(temp, Path.GetRelativePath(_state, directory));
        // rename(2) itself: File.Move and Directory.Move both refuse a link to a directory as the source.
        if (Rename(temp, ActivePath) != 0)
            throw new IOException($"cannot rename {temp} to {ActivePath}: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int Rename(string from, string to);

    private void WriteLastGood(byte[] bytes)
    {
        var temp = LastGood + ".new";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, LastGood, overwrite: true);
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
    }
}
