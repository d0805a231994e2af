using System.Diagnostics;
using FlashdutySync.Flashduty;

namespace FlashdutySync.Tests.Sync;

/// <summary>
/// The limiter's windows are shrunk (the library's sliding window moves with real time only), and the waiting call
/// is polled for with a deadline, never slept for.
/// </summary>
public sealed class AccountRateLimiterTests
{
    private static readonly RateLimitOptions Limits = new() { PerSecond = 50, PerMinute = 1000, Margin = TimeSpan.Zero };

    private static List<Task> Acquire(AccountRateLimiter limiter, int n) =>
        Enumerable.Range(0, n).Select(_ => limiter.AcquireAsync(CancellationToken.None).AsTask()).ToList();

    [Fact]
    public async Task The51stCallInASecond_Waits_ThenGoesOnceTheWindowSlides()
    {
        // A "second" of 400 ms, a "minute" of 10 s.
        await using var limiter = new AccountRateLimiter(Limits, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(10));
        var started = Stopwatch.StartNew();
        var calls = Acquire(limiter, 51);

        Assert.All(calls.Take(50), c => Assert.True(c.IsCompletedSuccessfully));
        Assert.False(calls[50].IsCompleted);
        await calls[50].WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(350), $"the 51st went after {started.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task The1001stCallInAMinute_Waits_EvenWhenTheSecondWindowHasRoom()
    {
        var limits = new RateLimitOptions { PerSecond = 5000, PerMinute = 1000, Margin = TimeSpan.Zero };
        await using var limiter = new AccountRateLimiter(limits, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(800));
        var started = Stopwatch.StartNew();
        var calls = Acquire(limiter, 1001);

        Assert.All(calls.Take(1000), c => Assert.True(c.IsCompletedSuccessfully));
        Assert.False(calls[1000].IsCompleted);
        await calls[1000].WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(750), $"the 1001st went after {started.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task EveryPermit_IsSpentInBothWindows()
    {
        await using var limiter = new AccountRateLimiter(Limits);
        await limiter.AcquireAsync(CancellationToken.None);
        Assert.Equal(49, limiter.PerSecond.GetStatistics()!.CurrentAvailablePermits);
        Assert.Equal(999, limiter.PerMinute.GetStatistics()!.CurrentAvailablePermits);
    }
}
