using FlashdutySync.Flashduty;
using Microsoft.Extensions.Time.Testing;

namespace FlashdutySync.Tests.Sync;

/// <summary>The account limiter on a fake clock: both windows count from the grant, with the margin.</summary>
public sealed class AccountRateLimiterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero));

    private AccountRateLimiter Limiter(int perSecond, int perMinute, int marginMs = 0) =>
        new(new RateLimitOptions { PerSecond = perSecond, PerMinute = perMinute, Margin = TimeSpan.FromMilliseconds(marginMs) }, _time);

    /// <summary>Requests that end the moment they are granted.</summary>
    private static List<Task> Acquire(AccountRateLimiter limiter, int n) =>
        Enumerable.Range(0, n).Select(async _ => (await limiter.AcquireAsync(CancellationToken.None)).Dispose()).ToList();

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

    /// <summary>Moves the clock on in small steps until the call is granted (bounded in real time).</summary>
    private async Task GrantedAsync(Task call)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!call.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.WhenAny(call, Task.Delay(5));
            if (!call.IsCompleted) _time.Advance(TimeSpan.FromMilliseconds(5));
        }

        await call.WaitAsync(TimeSpan.FromSeconds(1));
    }

    /// <summary>An early grant would run on the thread pool: give it time to show before saying it did not happen.</summary>
    private static async Task AssertWaitingAsync(Task call, string because)
    {
        await Task.WhenAny(call, Task.Delay(100));
        Assert.False(call.IsCompleted, because);
    }

    [Fact]
    public async Task The51stCallInASecond_WaitsForTheSecondPlusTheMargin()
    {
        await using var limiter = Limiter(50, 1000, marginMs: 100);
        var calls = Acquire(limiter, 51);

        Assert.All(calls.Take(50), c => Assert.True(c.IsCompletedSuccessfully));
        await AdvanceAsync(TimeSpan.FromMilliseconds(1050));
        await AssertWaitingAsync(calls[50], "a permit came back before its second and margin had passed");
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
        await AssertWaitingAsync(calls[1000], "the minute is full");
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
        foreach (var call in later) await AssertWaitingAsync(call, "the minute is full until 60 s");
        await AdvanceAsync(TimeSpan.FromSeconds(0.2));
        await GrantedAsync(later[0]);
        await GrantedAsync(later[1]);
        // F: C holds its minute permit until 61 s. Counted from when C asked (0 s), F would go at 60 s.
        await AdvanceAsync(TimeSpan.FromSeconds(0.5));
        await AssertWaitingAsync(later[2], "C's minute permit came back less than a minute after it was granted");
        await AdvanceAsync(TimeSpan.FromSeconds(0.6));
        await GrantedAsync(later[2]);
    }

    [Fact]
    public async Task ReservedPermits_OfAPredecessor_AreSpentInTheirWindowsOnly()
    {
        await using var limiter = Limiter(10, 20);
        limiter.Reserve(lastSecond: 10, lastMinute: 15);

        var calls = Acquire(limiter, 6);
        foreach (var call in calls) await AssertWaitingAsync(call, "the reserved second is full");
        await AdvanceAsync(TimeSpan.FromSeconds(1.05));
        // The second has room again; the minute has 5 left of 20.
        await Task.WhenAll(calls.Take(5)).WaitAsync(TimeSpan.FromSeconds(5));
        await AssertWaitingAsync(calls[5], "the minute has 5 permits left");
    }

    [Fact]
    public async Task EveryGrant_IsCounted_AndDatedWhenItsRequestEnded()
    {
        await using var limiter = Limiter(50, 1000);
        (await limiter.AcquireAsync(CancellationToken.None)).Dispose();
        _time.Advance(TimeSpan.FromSeconds(3));
        var second = await limiter.AcquireAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(2));
        // In flight: the ledger dates it now, for a successor that must count it.
        Assert.Equal([_time.GetUtcNow() - TimeSpan.FromSeconds(5), _time.GetUtcNow()], limiter.Spent);
        second.Dispose();
        second.Dispose(); // once only

        Assert.Equal(2, limiter.Acquired);
        Assert.Equal([_time.GetUtcNow() - TimeSpan.FromSeconds(5), _time.GetUtcNow()], limiter.Spent);
        Assert.Equal((1, 2), limiter.InUse());
    }

    [Fact]
    public async Task RequestsStillInFlight_HoldTheirPermits_AndCountAWindowFromWhenTheyEnd()
    {
        // Flashduty counts a request when it arrives: one that waited for a connection arrives late. Counted from its
        // grant, 50 slow requests would leave the second while Flashduty still counts them.
        await using var limiter = Limiter(50, 1000, marginMs: 100);
        var slow = new List<RatePermit>();
        for (var i = 0; i < 50; i++) slow.Add(await limiter.AcquireAsync(CancellationToken.None));
        var next = Acquire(limiter, 1)[0];
        await AdvanceAsync(TimeSpan.FromSeconds(3));
        await AssertWaitingAsync(next, "50 requests are still in flight");
        Assert.Equal((50, 50), limiter.InUse());

        slow[0].Dispose();
        await AdvanceAsync(TimeSpan.FromMilliseconds(1000));
        await AssertWaitingAsync(next, "the request that ended counts for a second and the margin from its end");
        await AdvanceAsync(TimeSpan.FromMilliseconds(150));
        await GrantedAsync(next);
        foreach (var permit in slow) permit.Dispose();
    }

    [Fact]
    public async Task AGateThatFailsOrIsCancelled_ReleasesTheCallers_InsteadOfFailingEveryRequestForEver()
    {
        await using var limiter = Limiter(50, 1000);
        limiter.HoldUntil(Task.FromCanceled(new CancellationToken(canceled: true)));
        (await limiter.AcquireAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        limiter.HoldUntil(Task.FromException(new InvalidOperationException("the ledger could not be read")));
        (await limiter.AcquireAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        Assert.Equal(2, limiter.Acquired);
    }
}
