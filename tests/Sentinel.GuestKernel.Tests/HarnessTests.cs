namespace Sentinel.GuestKernel.Tests;

/// <summary>The harness's own failure paths: each must fail loudly with what a developer needs.</summary>
[Collection("guest")]
public sealed class HarnessTests(GuestBoot guest)
{
    [GuestFact]
    public void A_guest_that_does_not_finish_in_time_is_killed_and_its_console_log_attached()
    {
        var error = Assert.Throws<GuestException>(() => guest.Image.Boot(TimeSpan.FromSeconds(3)));

        Assert.Contains("did not finish within 3 s and was killed", error.Message);
        Assert.Contains("--- console log ---", error.Message);
    }

    [GuestFact]
    public void The_image_is_reused_while_its_inputs_are_unchanged()
    {
        var again = GuestImage.Build();

        Assert.True(again.WasCached);
        Assert.Equal((guest.Image.Kernel, guest.Image.Initramfs), (again.Kernel, again.Initramfs));
    }

    [GuestFact]
    public void Without_qemu_the_boot_fails_with_the_reason()
    {
        var error = Assert.Throws<GuestException>(() =>
            guest.Image.Boot(TimeSpan.FromSeconds(30), new Dictionary<string, string> { ["PATH"] = "/nonexistent" }));

        Assert.Contains("qemu-system-x86_64 is missing", error.Message);
    }

    [Fact]
    public void A_malformed_record_line_names_its_line_and_what_is_wrong()
    {
        var error = Assert.Throws<GuestException>(() =>
            GuestReport.Parse(["kernel 6.1.0", "record self_query 53nothex"], Sentinel.Events.AttachStrategy.Kprobe));

        Assert.StartsWith("data line 2: malformed 'record' line", error.Message);
    }

    [Fact]
    public void A_record_that_is_not_a_move_pages_record_is_rejected_not_trusted()
    {
        var foreign = Convert.ToHexString(new byte[Sentinel.Probes.MovePagesDecoder.RecordSize]);
        var error = Assert.Throws<GuestException>(() =>
            GuestReport.Parse([$"record self_query {foreign}"], Sentinel.Events.AttachStrategy.Kprobe));

        Assert.Contains("record does not decode: BadMagic", error.Message);
    }

    [Fact]
    public void A_response_record_without_its_comm_names_its_line()
    {
        var error = Assert.Throws<GuestException>(() =>
            GuestReport.Parse(["kernel 6.1.0", "resp-record init_self pid=1 tid=1"], Sentinel.Events.AttachStrategy.Kprobe));

        Assert.StartsWith("data line 2: malformed 'resp-record' line (no comm= field)", error.Message);
    }

    [Fact]
    public void A_truncated_call_line_names_its_line()
    {
        var error = Assert.Throws<GuestException>(() =>
            GuestReport.Parse(["call self_query ret=0 errno=0"], Sentinel.Events.AttachStrategy.Kprobe));

        Assert.StartsWith("data line 1: malformed 'call' line", error.Message);
    }
}
