using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Sentinel.Bpf;
using Sentinel.Events;

namespace Sentinel.Probes;

public enum DecodeResult
{
    Ok,
    Truncated,
    BadMagic,
    BadSize,
    Corrupt,
}

/// <summary>
/// Decodes ring-buffer records into pooled <see cref="MovePagesEvent"/>s straight from the span, without
/// copying the record or allocating (comm strings are interned). A bad record is rejected, never trusted.
/// </summary>
public sealed class MovePagesDecoder(AttachStrategy strategy)
{
    public static readonly int RecordSize = Unsafe.SizeOf<RawMovePagesEvent>();

    private readonly CommCache _comms = new();
    public AttachStrategy Strategy { get; } = strategy;

    /// <summary>A kernel clock reading past ~146 years of uptime is corrupt, and would overflow the Unix time.</summary>
    private const ulong MaxClockNs = 1UL << 62;

    /// <summary>Every bit of enum snt_copy_flags; a record with another one set is not ours.</summary>
    private const int KnownCopies = (int)(ProbeHeader.CopyFlags.PagesEntry | ProbeHeader.CopyFlags.NodesEntry |
        ProbeHeader.CopyFlags.PagesExit | ProbeHeader.CopyFlags.NodesExit | ProbeHeader.CopyFlags.StatusExit);

    public unsafe DecodeResult Decode(ReadOnlySpan<byte> record, MovePagesEvent target)
    {
        if (record.Length < RecordSize) return DecodeResult.Truncated;
        ref readonly var raw = ref MemoryMarshal.AsRef<RawMovePagesEvent>(record);
        if (raw.Magic != ProbeHeader.RecordMagic) return DecodeResult.BadMagic;
        if (raw.Size != RecordSize) return DecodeResult.BadSize;
        if (raw.Call.Copied > ProbeHeader.MaxCopied || raw.Call.Copied > raw.Call.Count || raw.Call.Compat > 1 ||
            raw.ExitNs < raw.Call.EnterNs || (raw.Call.Copies & ~KnownCopies) != 0 ||
            raw.FoldCount == 0 || raw.FoldCount > long.MaxValue || raw.FoldLastNs < raw.FoldFirstNs ||
            raw.ExitNs > MaxClockNs || raw.FoldLastNs > MaxClockNs)
            return DecodeResult.Corrupt;

        target.TimeUnixNs = BootClock.ToUnixNs(raw.ExitNs);
        target.DurationNs = (long)(raw.ExitNs - raw.Call.EnterNs);
        target.Cpu = (int)raw.Cpu;
        target.Pid = (int)raw.Pid;
        target.Tid = (int)raw.Tid;
        target.Ppid = (int)raw.Ppid;
        target.Uid = raw.Uid;
        target.Euid = raw.Euid;
        target.Gid = raw.Gid;
        target.CapEffective = raw.CapEffective;
        target.MountNamespace = raw.MntNs;
        target.PidNamespace = raw.PidNs;
        target.CgroupId = raw.CgroupId;
        target.Compat = raw.Call.Compat != 0;
        target.Strategy = Strategy;
        target.TargetPid = raw.Call.TargetPid;
        target.Count = raw.Call.Count;
        target.PagesAddress = raw.Call.Pages;
        target.NodesAddress = raw.Call.Nodes;
        target.StatusAddress = raw.Call.Status;
        target.Flags = raw.Call.Flags;
        target.ReturnValue = raw.Ret;
        target.CopiedCount = raw.Call.Copied;
        target.FoldCount = (long)raw.FoldCount;
        target.FoldFirstUnixNs = BootClock.ToUnixNs(raw.FoldFirstNs);
        target.FoldLastUnixNs = BootClock.ToUnixNs(raw.FoldLastNs);
        target.Copies = (CopyFlags)raw.Call.Copies;

        fixed (byte* comm = raw.Comm) target.Comm = _comms.Get(new ReadOnlySpan<byte>(comm, ProbeHeader.CommLen));
        fixed (ulong* p = raw.Call.PagesAtEntry) new ReadOnlySpan<ulong>(p, ProbeHeader.MaxCopied).CopyTo(target.PagesAtEntryBuffer);
        fixed (ulong* p = raw.PagesAtExit) new ReadOnlySpan<ulong>(p, ProbeHeader.MaxCopied).CopyTo(target.PagesAtExitBuffer);
        fixed (int* p = raw.Call.NodesAtEntry) new ReadOnlySpan<int>(p, ProbeHeader.MaxCopied).CopyTo(target.NodesAtEntryBuffer);
        fixed (int* p = raw.NodesAtExit) new ReadOnlySpan<int>(p, ProbeHeader.MaxCopied).CopyTo(target.NodesAtExitBuffer);
        fixed (int* p = raw.StatusAtExit) new ReadOnlySpan<int>(p, ProbeHeader.MaxCopied).CopyTo(target.StatusBuffer);
        target.ComputeToctou();
        return DecodeResult.Ok;
    }
}

/// <summary>Interns task comms (16 bytes, NUL-padded) so a steady stream of known processes allocates nothing.</summary>
internal sealed class CommCache
{
    private const int MaxEntries = 4096;
    private readonly Dictionary<(ulong, ulong), string> _byBytes = new();

    public string Get(ReadOnlySpan<byte> comm16)
    {
        var key = (MemoryMarshal.Read<ulong>(comm16), MemoryMarshal.Read<ulong>(comm16[8..]));
        if (_byBytes.TryGetValue(key, out var name)) return name;
        if (_byBytes.Count >= MaxEntries) _byBytes.Clear(); // bounded: hostile comm churn cannot grow memory
        var length = comm16.IndexOf((byte)0);
        name = Encoding.UTF8.GetString(length < 0 ? comm16 : comm16[..length]);
        _byBytes[key] = name;
        return name;
    }
}
