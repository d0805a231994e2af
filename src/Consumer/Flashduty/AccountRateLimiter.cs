using System.Threading.RateLimiting;

namespace FlashdutySync.Flashduty;

/// <summary>
/// The account-wide budget: one permit per Flashduty request, under both the per-second and the per-minute
/// limit at once. Sliding windows are sized so that a spent permit comes back no sooner than the window plus
/// a margin after it was spent: no rolling window of the server's can then see more than the limit.
/// Callers queue for a permit; they never fail.
/// </summary>
public sealed class AccountRateLimiter : IAsyncDisposable
{
    private const int SecondSegments = 10;
    private const int MinuteSegments = 60;

    public AccountRateLimiter(RateLimitOptions options)
        : this(options, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1))
    {
    }

    /// <summary>
    /// Windows of other lengths, for tests: the library's sliding window slides only as real time passes, even
    /// when replenished by hand, so tests shrink the windows instead of waiting a minute.
    /// </summary>
    internal AccountRateLimiter(RateLimitOptions options, TimeSpan second, TimeSpan minute)
    {
        PerMinute = Window(options.PerMinute, minute + options.Margin, MinuteSegments);
        PerSecond = Window(options.PerSecond, second + options.Margin, SecondSegments);
        // The long wait first: the per-second permit is then taken right before the request goes out.
        Limiter = RateLimiter.CreateChained(PerMinute, PerSecond);
    }

    internal SlidingWindowRateLimiter PerSecond { get; }
    internal SlidingWindowRateLimiter PerMinute { get; }
    internal RateLimiter Limiter { get; }

    private readonly System.Collections.Concurrent.ConcurrentQueue<DateTimeOffset> _spent = new();
    private volatile Task _gate = Task.CompletedTask;

    /// <summary>Waits for a permit. Throws only when cancelled.</summary>
    public async ValueTask AcquireAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        using var lease = await Limiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            // Queue limits are unbounded, so this only happens when the limiter is being disposed.
            throw new OperationCanceledException("the rate limiter is shutting down");
        }

        Interlocked.Increment(ref _acquired);
        _spent.Enqueue(DateTimeOffset.UtcNow);
        while (_spent.TryPeek(out var oldest) && oldest < DateTimeOffset.UtcNow - TimeSpan.FromMinutes(2)) _spent.TryDequeue(out _);
    }

    private long _acquired;

    /// <summary>Permits this process has spent since it started: its Flashduty requests, retries included.</summary>
    public long Acquired => Interlocked.Read(ref _acquired);

    /// <summary>When this process spent its recent permits, newest last (the last two minutes).</summary>
    public IReadOnlyList<DateTimeOffset> Spent => _spent.ToArray();

    /// <summary>Holds every request until <paramref name="gate"/> completes (while the budget of a predecessor is read).</summary>
    public void HoldUntil(Task gate) => _gate = gate;

    /// <summary>
    /// Counts permits another process spent as spent here too (they come back a full window from now, which is
    /// later than they would for that process: safe, not exact).
    /// </summary>
    public void Reserve(int lastSecond, int lastMinute)
    {
        Spend(PerMinute, lastMinute);
        Spend(PerSecond, lastSecond);

        static void Spend(SlidingWindowRateLimiter window, int permits)
        {
            var available = (int)window.GetStatistics()!.CurrentAvailablePermits;
            if (Math.Min(permits, available) > 0) window.AttemptAcquire(Math.Min(permits, available)).Dispose();
        }
    }

    private static SlidingWindowRateLimiter Window(int permits, TimeSpan minimumReuse, int segments) => new(
        new SlidingWindowRateLimiterOptions
        {
            PermitLimit = permits,
            SegmentsPerWindow = segments,
            // A permit is reused between (segments - 1) and segments segment-lengths after it was taken.
            Window = minimumReuse * segments / (segments - 1),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });

    public async ValueTask DisposeAsync()
    {
        await Limiter.DisposeAsync();
        await PerSecond.DisposeAsync();
        await PerMinute.DisposeAsync();
    }
}
