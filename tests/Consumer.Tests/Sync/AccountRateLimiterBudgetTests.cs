using FlashdutySync.Flashduty;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

/// <summary>What the limiter reports as spent (the dashboard's budget panel): both rolling windows, margin included.</summary>
public sealed class AccountRateLimiterBudgetTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task InUse_CountsGrantsPerWindow_UntilEachLeavesItsWindowAndMargin_WithAPredecessorsReservations()
    {
        var limiter = new AccountRateLimiter(new RateLimitOptions { PerSecond = 50, PerMinute = 1000, Margin = TimeSpan.FromMilliseconds(100) }, _time);
        Assert.Equal((0, 0), limiter.InUse());

        for (var i = 0; i < 3; i++) (await limiter.AcquireAsync(CancellationToken.None)).Dispose();
        Assert.Equal((3, 3), limiter.InUse());

        _time.Advance(TimeSpan.FromMilliseconds(1050)); // inside the second's window plus its 100 ms margin
        Assert.Equal((3, 3), limiter.InUse());
        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal((0, 3), limiter.InUse());

        // A predecessor's last second and minute count as spent now (the minute's extra ones in the minute only).
        limiter.Reserve(lastSecond: 2, lastMinute: 5);
        Assert.Equal((2, 8), limiter.InUse());

        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal((0, 0), limiter.InUse());
    }
}
