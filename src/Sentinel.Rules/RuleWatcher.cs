using System.Runtime.InteropServices;

namespace Sentinel.Rules;

/// <summary>
/// Calls back when a rule file changes (debounced: editors save in several writes) and on SIGHUP.
/// </summary>
internal sealed class RuleWatcher : IDisposable
{
    private readonly FileSystemWatcher _watcher;
    private readonly PosixSignalRegistration? _sighup;
    private readonly Timer _debounce;
    private readonly TimeSpan _delay;

    public RuleWatcher(string path, TimeSpan delay, Action reload)
    {
        _delay = delay;
        _debounce = new Timer(_ => reload());
        var directory = Directory.Exists(path) ? path : Path.GetDirectoryName(path)!;
        var filter = Directory.Exists(path) ? "*.csx" : Path.GetFileName(path);
        _watcher = new FileSystemWatcher(directory, filter)
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

    private void OnChange(object sender, FileSystemEventArgs e) => _debounce.Change(_delay, Timeout.InfiniteTimeSpan);

    public void Dispose()
    {
        _sighup?.Dispose();
        _watcher.Dispose();
        _debounce.Dispose();
    }
}
