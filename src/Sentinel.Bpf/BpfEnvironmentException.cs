namespace Sentinel.Bpf;

/// <summary>A machine we cannot load BPF programs on, with a one-line reason that says how to fix it.</summary>
public sealed class BpfEnvironmentException(string message) : Exception(message);
