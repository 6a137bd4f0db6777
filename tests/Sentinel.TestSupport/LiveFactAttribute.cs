using Xunit;

namespace Sentinel.TestSupport;

/// <summary>
/// A test that needs the live kernel (root, BPF). Under CI it always runs, so a missing capability fails the
/// build; elsewhere, without root, it is skipped with the reason.
/// </summary>
public sealed class LiveFactAttribute : FactAttribute
{
    public LiveFactAttribute()
    {
        if (LiveKernel.SkipReason is { } reason) Skip = reason;
    }
}

public static class LiveKernel
{
    public static bool InCi => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    public static bool IsRoot => Environment.UserName == "root" || geteuid() == 0;

    public static string? SkipReason =>
        InCi || IsRoot ? null : "needs root and a BPF-capable kernel (runs under CI=true as root)";

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();
}
