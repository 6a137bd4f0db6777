using System.Buffers;

namespace Sentinel.ProcessTree;

/// <summary>The container runtime a cgroup path names.</summary>
public enum ContainerRuntime
{
    None,
    Docker,
    Containerd,
    CriO,
    Podman,
    /// <summary>A bare 64-hex cgroup directory (cgroupfs driver) under a parent we do not recognise.</summary>
    Unknown,
}

/// <summary>
/// Parses container ids out of cgroup paths, for the systemd and cgroupfs naming of docker, containerd
/// (including Kubernetes' cri-containerd), cri-o and podman:
/// <code>
/// /system.slice/docker-ID.scope            /docker/ID
/// /kubepods.slice/…/cri-containerd-ID.scope /kubepods/burstable/podUID/ID
/// /kubepods.slice/…/crio-ID.scope          /machine.slice/libpod-ID.scope[/container]
/// /libpod_parent/libpod-ID
/// </code>
/// The innermost component that holds a 64-hex id wins; conmon (the podman/cri-o monitor) is not a container.
/// </summary>
public static class ContainerIds
{
    public const int IdLength = 64;

    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");

    private static readonly (string Prefix, ContainerRuntime Runtime)[] Prefixes =
    [
        ("docker-", ContainerRuntime.Docker),
        ("cri-containerd-", ContainerRuntime.Containerd),
        ("containerd-", ContainerRuntime.Containerd),
        ("nerdctl-", ContainerRuntime.Containerd),
        ("crio-", ContainerRuntime.CriO),
        ("libpod-", ContainerRuntime.Podman),
    ];

    /// <summary>The container id in <paramref name="cgroupPath"/>, or "" when it names none.</summary>
    public static string Parse(ReadOnlySpan<char> cgroupPath) =>
        TryParse(cgroupPath, out var id, out _) ? id.ToString() : "";

    public static bool TryParse(ReadOnlySpan<char> cgroupPath, out ReadOnlySpan<char> id, out ContainerRuntime runtime)
    {
        var path = cgroupPath.TrimEnd('/');
        while (!path.IsEmpty)
        {
            var slash = path.LastIndexOf('/');
            var component = path[(slash + 1)..];
            var parent = slash < 0 ? ReadOnlySpan<char>.Empty : path[..slash];
            if (TryComponent(component, parent, out id, out runtime)) return true;
            if (slash < 0) break;
            path = parent;
        }
        id = default;
        runtime = ContainerRuntime.None;
        return false;
    }

    private static bool TryComponent(ReadOnlySpan<char> component, ReadOnlySpan<char> parent,
        out ReadOnlySpan<char> id, out ContainerRuntime runtime)
    {
        id = default;
        runtime = ContainerRuntime.None;
        if (component.Contains("conmon", StringComparison.Ordinal)) return false;

        var name = component.EndsWith(".scope", StringComparison.Ordinal) ? component[..^".scope".Length] : component;
        foreach (var (prefix, prefixRuntime) in Prefixes)
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal) && IsId(name[prefix.Length..]))
            {
                id = name[prefix.Length..];
                runtime = prefixRuntime;
                return true;
            }
        }
        if (!IsId(name)) return false;

        // cgroupfs drivers name the directory by the bare id; the parent says whose it is.
        id = name;
        var parentName = parent[(parent.LastIndexOf('/') + 1)..];
        runtime = parentName switch
        {
            "docker" => ContainerRuntime.Docker,
            "libpod_parent" => ContainerRuntime.Podman,
            _ when parent.Contains("kubepods", StringComparison.Ordinal) => ContainerRuntime.Containerd,
            _ when parent.StartsWith("/default", StringComparison.Ordinal) => ContainerRuntime.Containerd,
            _ => ContainerRuntime.Unknown,
        };
        return true;
    }

    private static bool IsId(ReadOnlySpan<char> s) =>
        s.Length == IdLength && !s.ContainsAnyExcept(LowerHex);
}
