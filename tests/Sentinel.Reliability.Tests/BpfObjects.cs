using System.Diagnostics;
using Sentinel.Bpf;
using Sentinel.TestSupport;

namespace Sentinel.Reliability.Tests;

/// <summary>The BPF programs, maps and links a process holds, read from its fd table, and what the kernel still has.</summary>
internal static class BpfObjects
{
    public sealed record Held(HashSet<uint> Programs, HashSet<uint> Maps, HashSet<uint> Links)
    {
        public int Count => Programs.Count + Maps.Count + Links.Count;
    }

    /// <summary>Every BPF object id behind an fd of <paramref name="pid"/> (a link's program counts as held too).</summary>
    public static Held HeldBy(int pid)
    {
        var held = new Held([], [], []);
        string[] fds;
        try { fds = Directory.GetFiles($"/proc/{pid}/fd"); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return held; }
        foreach (var fd in fds)
        {
            string target;
            try { target = new FileInfo(fd).LinkTarget ?? ""; }
            catch (IOException) { continue; }
            if (!target.StartsWith("anon_inode:bpf", StringComparison.Ordinal)) continue;
            string info;
            try { info = File.ReadAllText($"/proc/{pid}/fdinfo/{Path.GetFileName(fd)}"); }
            catch (IOException) { continue; }
            foreach (var line in info.Split('\n'))
            {
                var colon = line.IndexOf(':');
                if (colon < 0 || !uint.TryParse(line.AsSpan(colon + 1).Trim(), out var id)) continue;
                switch (line[..colon])
                {
                    case "prog_id": held.Programs.Add(id); break;
                    case "map_id": held.Maps.Add(id); break;
                    case "link_id": held.Links.Add(id); break;
                }
            }
        }
        return held;
    }

    /// <summary>The ids of one kind (prog, map, link) that exist in the kernel now.</summary>
    public static HashSet<uint> Existing(string kind)
    {
        var (_, output, _) = ChildProcess.Run("bpftool", [kind, "show"]);
        var ids = new HashSet<uint>();
        foreach (var line in output.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && uint.TryParse(line.AsSpan(0, colon), out var id)) ids.Add(id);
        }
        return ids;
    }
}
