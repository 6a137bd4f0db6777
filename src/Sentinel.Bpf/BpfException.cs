namespace Sentinel.Bpf;

/// <summary>What a libbpf call was doing when it failed: callers decide on this, never on the message.</summary>
public enum BpfErrorKind
{
    /// <summary>The object file is not there (not built).</summary>
    ObjectMissing,
    /// <summary>libbpf could not open or parse the object.</summary>
    Open,
    /// <summary>The object names no such program or map, or its layout is not the one expected.</summary>
    Lookup,
    /// <summary>The kernel refused to load the object (the verifier, a missing helper or map type, EPERM).</summary>
    Load,
    /// <summary>A loaded program could not be attached at its hook.</summary>
    Attach,
    /// <summary>A test run of a loaded program failed.</summary>
    Run,
    /// <summary>A map operation or a ring-buffer setup failed.</summary>
    Map,
}

/// <summary>A failed libbpf call: its kind, the errno (0 when there is none), and a one-line message.</summary>
public sealed class BpfException(BpfErrorKind kind, int errno, string message) : Exception(message)
{
    public BpfErrorKind Kind { get; } = kind;

    /// <summary>The positive errno (EPERM = 1, ...); 0 when the failure has none.</summary>
    public int Errno { get; } = Math.Abs(errno);
}
