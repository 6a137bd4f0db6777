using System.Runtime.InteropServices;

namespace Sentinel.Rules;

/// <summary>
/// Calls back when a rule file (and, with <c>fixtures</c>, a fixture file) changes, debounced since editors
/// save in several writes, and on SIGHUP.
/// </summary>
public sealed class RuleWatcher : IDisposable
{
    private readonly FileSystemWatcher _watcher;
    private readonly PosixSignalRegistration? _sighup;
    private readonly Timer _debounce;
    private readonly TimeSpan _delay;
    private readonly Func<string, bool> _watched;

    public RuleWatcher(string path, TimeSpan delay, Action reload, bool fixtures = false)
    {
        _delay = delay;
        _debounce = new Timer(_ => reload());
        path = Path.GetFullPath(path);
        var isDirectory = Directory.Exists(path);
        var directory = isDirectory ? path : Path.GetDirectoryName(path)!;
        _watched = (isDirectory, fixtures) switch
        {
            (true, false) => name => name.EndsWith(".csx", StringComparison.OrdinalIgnoreCase),
            (true, true) => name => name.EndsWith(".csx", StringComparison.OrdinalIgnoreCase)
                                    || name.EndsWith(".fixtures.jsonl", StringComparison.OrdinalIgnoreCase),
            (false, false) => name => name == Path.GetFileName(path),
            (false, true) => name => name == Path.GetFileName(path) || name == Path.GetFileName(RuleDirectories.FixturePath(path)),
        };
        _watcher = new FileSystemWatcher(directory)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size,
            IncludeSubdirectories = false,
        };
        _watcher.Changed += OnChange;
        _watcher.Created += OnChange;
        _watcher.Deleted += OnChange;
        _watcher.Renamed += OnChange;
        _watcher.EnableRaisingEvents = true;
        if (!OperatingSystem.IsWindows())
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // SIGHUP means reload, not terminate
                ThreadPool.QueueUserWorkItem(_ => reload());
            });
    }

    private void OnChange(object sender, FileSystemEventArgs e)
    {
        // A rename counts if either name is watched: editors save by renaming a temporary file over the rule.
        if (_watched(e.Name ?? "") || e is RenamedEventArgs r && _watched(r.OldName ?? ""))
            _debounce.Change(_delay, Timeout.InfiniteTimeSpan);
    }

    public void Dispose()
    {
        _sighup?.Dispose();
        _watcher.Dispose();
        _debounce.Dispose();
    }
}
