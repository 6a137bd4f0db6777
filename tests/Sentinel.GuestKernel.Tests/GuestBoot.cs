using Sentinel.Events;
using Sentinel.TestSupport;

namespace Sentinel.GuestKernel.Tests;

/// <summary>
/// One boot of the guest shared by every test of the "guest" collection: the suite pays one boot (tens of
/// seconds under emulation), and the image build only when an input changed.
/// </summary>
public sealed class GuestBoot
{
    /// <summary>Generous for a loaded 2-core machine under TCG; a boot measured here takes about 40 s.</summary>
    public static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(4);

    private readonly Lazy<(GuestImage Image, GuestRun Run, GuestReport Report)> _boot = new(() =>
    {
        var image = GuestImage.Build();
        var run = image.Boot(BootTimeout);
        return (image, run, GuestReport.Parse(run.DataLines, AttachStrategy.Kprobe));
    });

    public GuestImage Image => _boot.Value.Image;
    public GuestRun Run => _boot.Value.Run;
    public GuestReport Report => _boot.Value.Report;
}

[CollectionDefinition("guest")]
public sealed class GuestCollection : ICollectionFixture<GuestBoot>;

/// <summary>
/// A test that boots the qemu guest. Under CI it always runs, so a missing qemu or kernel package fails with
/// the reason; elsewhere it is skipped when qemu is not installed.
/// </summary>
public sealed class GuestFactAttribute : FactAttribute
{
    public GuestFactAttribute()
    {
        if (!LiveKernel.InCi && !QemuInstalled)
            Skip = "needs qemu-system-x86_64 (bash .ci/setup installs it; under CI=true this test fails instead)";
    }

    private static bool QemuInstalled =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
        .Any(dir => File.Exists(Path.Combine(dir, "qemu-system-x86_64")));
}
