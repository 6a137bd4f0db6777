using NATS.Client.JetStream;
using Sentinel.Fleet.Export;
using Sentinel.TestSupport;

namespace Sentinel.Fleet.Tests;

/// <summary>The exporter's in-flight window: the cursor moves only over contiguous acks, whatever order they come in.</summary>
public sealed class AckWindowTests
{
    [Fact]
    public void Acks_out_of_order_move_the_cursor_only_over_a_contiguous_run_and_stale_or_forged_acks_are_ignored()
    {
        var window = new AckWindow(4);
        window.Reset(10);
        for (ulong s = 11; s <= 14; s++) window.OnSent(s);
        Assert.Equal(0, window.Room);

        Assert.True(window.OnAcked(13));
        Assert.True(window.OnAcked(12));
        Assert.Equal(10UL, window.Acked); // 11 still missing
        Assert.True(window.OnAcked(11));
        Assert.Equal(13UL, window.Acked);
        Assert.Equal(1, window.InFlight);

        Assert.False(window.OnAcked(11)); // stale: already acknowledged
        Assert.False(window.OnAcked(15)); // never sent: a forged reply
        window.OnSent(15);
        Assert.True(window.OnAcked(15));
        Assert.Equal(13UL, window.Acked); // 14 still missing; the ring slot 15 reused from 11 does not count as 14
        Assert.True(window.OnAcked(14));
        Assert.Equal(15UL, window.Acked);
        Assert.Equal(TimeSpan.Zero, window.OldestWait);
    }

    [Fact]
    public void The_window_stalls_when_the_oldest_publish_goes_unanswered_even_if_later_ones_are()
    {
        var window = new AckWindow(8);
        window.Reset(0);
        Assert.False(window.Stalled(TimeSpan.Zero)); // nothing in flight
        window.OnSent(1);
        window.OnSent(2);
        Wait.Until(() => window.Stalled(TimeSpan.FromMilliseconds(50)), "the oldest publish to go 50 ms unanswered", 10);
        Assert.True(window.OnAcked(2)); // a later one answered: the stream may now hold 2 without 1
        Assert.True(window.Stalled(TimeSpan.FromMilliseconds(50)));
        Assert.True(window.OnAcked(1));
        Assert.False(window.Stalled(TimeSpan.FromMilliseconds(50))); // nothing in flight
        window.OnSent(3);
        Assert.False(window.Stalled(TimeSpan.FromMilliseconds(50))); // the clock starts with the first publish in flight
    }

    [Theory]
    [InlineData("""{"stream":"S","seq":7}""")]
    [InlineData("""{"stream":"S","seq":7,"duplicate":true}""")]
    public void A_stored_or_duplicate_ack_is_a_success(string ack) => AckWindow.ThrowIfRefused(System.Text.Encoding.UTF8.GetBytes(ack), 7);

    [Theory]
    [InlineData("""{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S"}""", "stream refused detection 7: maximum messages exceeded (10077)")]
    [InlineData("", "empty ack for detection 7")]
    [InlineData("not json", "malformed ack for detection 7")]
    [InlineData("[1,2]", "malformed ack for detection 7")]
    public void A_refusal_or_a_malformed_ack_fails_the_publish_with_the_reason(string ack, string expected)
    {
        var ex = Assert.ThrowsAny<NatsJSException>(() => AckWindow.ThrowIfRefused(System.Text.Encoding.UTF8.GetBytes(ack), 7));
        Assert.StartsWith(expected, ex.Message);
    }
}
