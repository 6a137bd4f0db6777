namespace Sentinel.TestSupport;

/// <summary>
/// The one way tests wait: poll a positive condition until it holds, within a bound, and fail naming what was
/// awaited (plus whatever <c>detail</c> explains the state at the deadline). Never a fixed sleep.
/// </summary>
public static class Wait
{
    /// <summary>How often a condition is polled when nothing wakes the wait earlier: in-process state is cheap to
    /// read; an async condition is usually a request to a server, polled less often.</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20), AsyncPoll = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Blocks until <paramref name="condition"/> holds. <paramref name="stop"/> returns why waiting is pointless
    /// (a process exited), checked after the condition so a last change still counts; <paramref name="wake"/> is
    /// released by whatever may change the condition, to poll at once instead of at the next tick.
    /// </summary>
    public static void Until(Func<bool> condition, string what, int seconds = 60,
        Func<string>? detail = null, Func<string?>? stop = null, SemaphoreSlim? wake = null) =>
        // Every step completes synchronously here, so this blocks no other thread.
        Loop(() => new(condition()), what, seconds, detail, stop, () =>
        {
            if (wake is null) Thread.Sleep(Poll);
            else wake.Wait(Poll * 5);
            return default;
        }).GetAwaiter().GetResult();

    /// <summary>Polls <paramref name="probe"/> until it gives a value <paramref name="accept"/> takes, and returns that value.</summary>
    public static T For<T>(Func<T> probe, Func<T, bool> accept, string what, int seconds = 60, Func<T, string>? detail = null)
    {
        var last = default(T)!;
        Until(() => accept(last = probe()), what, seconds, detail is null ? null : () => detail(last));
        return last;
    }

    public static Task UntilAsync(Func<bool> condition, string what, int seconds = 60,
        Func<string>? detail = null, Func<string?>? stop = null, SemaphoreSlim? wake = null) =>
        Loop(() => new(condition()), what, seconds, detail, stop,
            () => new(wake is null ? Task.Delay(Poll) : wake.WaitAsync(Poll * 5))).AsTask();

    public static Task UntilAsync(Func<Task<bool>> condition, string what, int seconds = 60,
        Func<string>? detail = null, Func<string?>? stop = null, SemaphoreSlim? wake = null) =>
        Loop(() => new(condition()), what, seconds, detail, stop,
            () => new(wake is null ? Task.Delay(AsyncPoll) : wake.WaitAsync(Poll * 5))).AsTask();

    /// <summary>The async form of <see cref="For{T}"/>.</summary>
    public static async Task<T> ForAsync<T>(Func<Task<T>> probe, Func<T, bool> accept, string what, int seconds = 60, Func<T, string>? detail = null)
    {
        var last = default(T)!;
        await UntilAsync(async () => accept(last = await probe()), what, seconds, detail is null ? null : () => detail(last));
        return last;
    }

    private static async ValueTask Loop(Func<ValueTask<bool>> condition, string what, int seconds,
        Func<string>? detail, Func<string?>? stop, Func<ValueTask> pause)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (stop?.Invoke() is { } reason)
            {
                if (await condition()) return;
                throw new WaitFailedException($"{reason} before {what}{Detail(detail)}");
            }
            if (DateTime.UtcNow > deadline)
                throw new WaitFailedException($"timed out after {seconds} s waiting for {what}{Detail(detail)}");
            await pause();
        }
    }

    private static string Detail(Func<string>? detail) => detail?.Invoke() is { Length: > 0 } d ? "\n" + d : "";
}

/// <summary>A bounded wait that ran out, or whose subject stopped before the condition held.</summary>
public sealed class WaitFailedException(string message) : Xunit.Sdk.XunitException(message);
