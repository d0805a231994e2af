using FlashdutySync.Flashduty;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

/// <summary>The account limiter on a fake clock: both windows count from the grant, with the margin.</summary>
public sealed class AccountRateLimiterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero));

    private AccountRateLimiter Limiter(int perSecond, int perMinute, int marginMs = 0) =>
        new(new RateLimitOptions { PerSecond = perSecond, PerMinute = perMinute, Margin = TimeSpan.FromMilliseconds(marginMs) }, _time);

    private static List<Task> Acquire(AccountRateLimiter limiter, int n) =>
        Enumerable.Range(0, n).Select(_ => limiter.AcquireAsync(CancellationToken.None).AsTask()).ToList();

    /// <summary>Moves the clock in small steps, so that every waiter due meanwhile is granted at its own time.</summary>
    private async Task AdvanceAsync(TimeSpan by)
    {
        var step = TimeSpan.FromMilliseconds(50);
        for (var moved = TimeSpan.Zero; moved < by; moved += step)
        {
            _time.Advance(step);
            await Task.Yield();
            await Task.Delay(1);
        }
    }

    private static async Task GrantedAsync(Task call) => await call.WaitAsync(TimeSpan.FromSeconds(5));

    [Fact]
    public async Task The51stCallInASecond_WaitsForTheSecondPlusTheMargin()
    {
        await using var limiter = Limiter(50, 1000, marginMs: 100);
        var calls = Acquire(limiter, 51);

        Assert.All(calls.Take(50), c => Assert.True(c.IsCompletedSuccessfully));
        await AdvanceAsync(TimeSpan.FromMilliseconds(1050));
        Assert.False(calls[50].IsCompleted, "a permit came back before its second and margin had passed");
        await AdvanceAsync(TimeSpan.FromMilliseconds(100));
        await GrantedAsync(calls[50]);
    }

    [Fact]
    public async Task The1001stCallInAMinute_Waits_EvenWhenTheSecondWindowHasRoom()
    {
        await using var limiter = Limiter(5000, 1000);
        var calls = Acquire(limiter, 1001);

        Assert.All(calls.Take(1000), c => Assert.True(c.IsCompletedSuccessfully));
        _time.Advance(TimeSpan.FromSeconds(59.9));
        await Task.Yield();
        Assert.False(calls[1000].IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(200));
        await GrantedAsync(calls[1000]);
    }

    [Fact]
    public async Task APermitThatWaitedForTheSecondWindow_CountsInTheMinuteFromWhenItWasGranted_NotFromWhenItWasAskedFor()
    {
        // 2 a second, 3 a minute. A and B at 0 s; C asks at 0 s but is granted at 1 s (the second is full).
        await using var limiter = Limiter(2, 3);
        var first = Acquire(limiter, 3);
        await AdvanceAsync(TimeSpan.FromSeconds(1.05));
        await GrantedAsync(first[2]);

        // D and E: the minute is full until A and B leave it at 60 s.
        var later = Acquire(limiter, 3);
        await AdvanceAsync(TimeSpan.FromSeconds(58.9));
        Assert.All(later, c => Assert.False(c.IsCompleted));
        await AdvanceAsync(TimeSpan.FromSeconds(0.2));
        await GrantedAsync(later[0]);
        await GrantedAsync(later[1]);
        // F: C holds its minute permit until 61 s. Counted from when C asked (0 s), F would go at 60 s.
        await AdvanceAsync(TimeSpan.FromSeconds(0.5));
        Assert.False(later[2].IsCompleted, "C's minute permit came back less than a minute after it was granted");
        await AdvanceAsync(TimeSpan.FromSeconds(0.6));
        await GrantedAsync(later[2]);
    }

    [Fact]
    public async Task ReservedPermits_OfAPredecessor_AreSpentInTheirWindowsOnly()
    {
        await using var limiter = Limiter(10, 20);
        limiter.Reserve(lastSecond: 10, lastMinute: 15);

        var calls = Acquire(limiter, 6);
        Assert.All(calls, c => Assert.False(c.IsCompleted));
        await AdvanceAsync(TimeSpan.FromSeconds(1.05));
        // The second has room again; the minute has 5 left of 20.
        await Task.WhenAll(calls.Take(5)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(calls[5].IsCompleted);
    }

    [Fact]
    public async Task EveryGrant_IsCountedAndDatedWhenItWasGranted()
    {
        await using var limiter = Limiter(50, 1000);
        await limiter.AcquireAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(3));
        await limiter.AcquireAsync(CancellationToken.None);

        Assert.Equal(2, limiter.Acquired);
        Assert.Equal([_time.GetUtcNow() - TimeSpan.FromSeconds(3), _time.GetUtcNow()], limiter.Spent);
    }
}
