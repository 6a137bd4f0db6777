namespace Sentinel.ProcessTree;

/// <summary>
/// cgroup id → (path, container id), and path → container id, so a cgroup is resolved through /proc once,
/// not once per process. Bounded: it starts over when full. Thread-safe.
/// </summary>
internal sealed class ContainerCache(int capacity = 4096)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, (string Path, string ContainerId)> _byCgroupId = [];
    private readonly Dictionary<string, string> _idByPath = new(StringComparer.Ordinal);

    public bool TryGet(ulong cgroupId, out string path, out string containerId)
    {
        lock (_lock)
        {
            if (cgroupId != 0 && _byCgroupId.TryGetValue(cgroupId, out var entry))
            {
                (path, containerId) = entry;
                return true;
            }
        }
        path = containerId = "";
        return false;
    }

    public void Add(ulong cgroupId, string path, string containerId)
    {
        if (cgroupId == 0) return;
        lock (_lock)
        {
            if (_byCgroupId.Count >= capacity) _byCgroupId.Clear();
            _byCgroupId[cgroupId] = (path, containerId);
        }
    }

    public string ContainerIdOf(string cgroupPath)
    {
        if (cgroupPath.Length == 0) return "";
        lock (_lock)
        {
            if (_idByPath.TryGetValue(cgroupPath, out var id)) return id;
            if (_idByPath.Count >= capacity) _idByPath.Clear();
            return _idByPath[cgroupPath] = ContainerIds.Parse(cgroupPath);
        }
    }
}
