namespace FlashdutySync.Flashduty;

/// <summary>
/// The account-wide budget: one permit per Flashduty request, under both the per-second and the per-minute limit at
/// once. A permit counts in both windows from when it is granted (right before the request goes out) until its request
/// has ended (<see cref="RatePermit.Dispose"/>: the answer came, or the attempt failed), and then for its window plus
/// <see cref="RateLimitOptions.Margin"/>. Flashduty counts the request when it arrives, somewhere between the two: a
/// request that waits for a new connection (a TLS handshake, a busy box) arrives late, and counted from its grant it
/// would leave this window before it entered Flashduty's (20 schemas read at once on new connections got 20 429s).
/// So no rolling window of the server's can see more than the limit. Callers queue in order; they never fail.
/// </summary>
/// <remarks>
/// Hand-written over System.Threading.RateLimiting: its sliding windows move with real time only (even with
/// manual replenishment), so they cannot be tested with a fake clock, and chaining a minute window before a second
/// window took the minute permit up to a second before the request was sent — that permit came back early (#13).
/// </remarks>
public sealed class AccountRateLimiter : IAsyncDisposable
{
    private readonly object _sync = new();
    private readonly SemaphoreSlim _turn = new(1, 1);
    private readonly TimeProvider _time;
    private readonly int _perSecond;
    private readonly int _perMinute;
    private readonly long _second;
    private readonly long _minute;

    // Ended requests on the monotonic clock (a wall-clock step must neither stall nor burst), oldest first; Both is
    // false for permits a predecessor spent in the minute only (see Reserve). Requests not ended yet count in both.
    private readonly LinkedList<(long At, bool Both)> _log = new();
    private int _inFlight;
    private TaskCompletionSource _ended = NewEnded();
    private readonly System.Collections.Concurrent.ConcurrentQueue<DateTimeOffset> _spent = new();
    private volatile Task _gate = Task.CompletedTask;
    private long _acquired;

    public AccountRateLimiter(RateLimitOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _time = time ?? TimeProvider.System;
        _perSecond = options.PerSecond;
        _perMinute = options.PerMinute;
        _second = Ticks(TimeSpan.FromSeconds(1) + options.Margin);
        _minute = Ticks(TimeSpan.FromMinutes(1) + options.Margin);
    }

    /// <summary>Permits this process has spent since it started: its Flashduty requests, retries included.</summary>
    public long Acquired => Interlocked.Read(ref _acquired);

    /// <summary>
    /// When this process's recent requests ended, newest last (the last two minutes); a request still in flight as
    /// now (a successor must count it: it may reach Flashduty after this replica's last record).
    /// </summary>
    public IReadOnlyList<DateTimeOffset> Spent
    {
        get
        {
            lock (_sync)
            {
                var now = _time.GetUtcNow();
                return [.. _spent, .. Enumerable.Repeat(now, _inFlight)];
            }
        }
    }

    /// <summary>
    /// Waits for a permit, then counts it as spent in both windows until the permit is disposed, when the request has
    /// ended, and a window after that. Throws only when cancelled.
    /// </summary>
    public async ValueTask<RatePermit> AcquireAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                TimeSpan wait;
                Task ended;
                lock (_sync)
                {
                    wait = WaitAt(_time.GetTimestamp());
                    if (wait == TimeSpan.Zero)
                    {
                        _inFlight++;
                        Interlocked.Increment(ref _acquired);
                        return new RatePermit(this);
                    }

                    ended = _ended.Task;
                }

                // Held up by requests still in flight: the next one to end; else the oldest ended one's window.
                if (wait == Timeout.InfiniteTimeSpan) await ended.WaitAsync(cancellationToken).ConfigureAwait(false);
                else await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <summary>The permit's request has ended: it counts a window from now.</summary>
    internal void End()
    {
        TaskCompletionSource ended;
        lock (_sync)
        {
            _inFlight--;
            _log.AddLast((_time.GetTimestamp(), true));
            ended = _ended;
            _ended = NewEnded();
            // The ledger shares these with the next replica, on another machine: wall-clock times, in order.
            var utc = _time.GetUtcNow();
            _spent.Enqueue(utc);
            while (_spent.TryPeek(out var oldest) && oldest < utc - TimeSpan.FromMinutes(2)) _spent.TryDequeue(out _);
        }

        ended.TrySetResult();
    }

    private static TaskCompletionSource NewEnded() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Holds every request until <paramref name="gate"/> completes (while the budget of a predecessor is read).</summary>
    public void HoldUntil(Task gate) => _gate = gate.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

    /// <summary>
    /// Counts permits another process spent as spent here too, as of now (they come back a full window from now,
    /// which is later than they would for that process: safe, not exact).
    /// </summary>
    public void Reserve(int lastSecond, int lastMinute)
    {
        lock (_sync)
        {
            var now = _time.GetTimestamp();
            for (var i = 0; i < Math.Max(lastSecond, lastMinute); i++) _log.AddLast((now, i < lastSecond));
        }
    }

    /// <summary>Permits counted as spent in the rolling second and in the rolling minute now (a predecessor's included).</summary>
    public (int LastSecond, int LastMinute) InUse()
    {
        lock (_sync)
        {
            var now = _time.GetTimestamp();
            return (_inFlight + _log.Count(g => g.Both && g.At > now - _second), _inFlight + _log.Count(g => g.At > now - _minute));
        }
    }

    /// <summary>
    /// How long until a permit is free in both windows at <paramref name="now"/>; infinite when only a request in
    /// flight ending can free one. Under the lock.
    /// </summary>
    private TimeSpan WaitAt(long now)
    {
        while (_log.First is { } first && first.Value.At <= now - _minute) _log.RemoveFirst();
        long wait = 0;
        // Each window: with n counted (in flight included), the (n - limit + 1)-th oldest ended request must leave it.
        var excess = _log.Count + _inFlight - _perMinute;
        if (excess >= 0)
        {
            if (excess >= _log.Count) return Timeout.InfiniteTimeSpan;
            wait = Math.Max(wait, _log.ElementAt(excess).At + _minute - now);
        }

        var inSecond = _log.Where(g => g.Both && g.At > now - _second).ToList();
        excess = inSecond.Count + _inFlight - _perSecond;
        if (excess >= 0)
        {
            if (excess >= inSecond.Count) return Timeout.InfiniteTimeSpan;
            wait = Math.Max(wait, inSecond[excess].At + _second - now);
        }

        // A request leaves its window strictly after At + window: one tick more.
        return wait > 0 ? TimeSpan.FromSeconds((wait + 1) / (double)_time.TimestampFrequency) + TimeSpan.FromTicks(1) : TimeSpan.Zero;
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    // The semaphore is not disposed: waiters still queued would hang, and a holder's Release would throw.
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>One request's permit: dispose it once the request has ended (answered, failed or cancelled).</summary>
public sealed class RatePermit : IDisposable
{
    private AccountRateLimiter? _limiter;

    internal RatePermit(AccountRateLimiter limiter) => _limiter = limiter;

    public void Dispose() => Interlocked.Exchange(ref _limiter, null)?.End();
}
