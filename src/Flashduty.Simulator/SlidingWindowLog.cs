namespace Flashduty.Simulator;

/// <summary>
/// The account's limits judged the strictest way: at most <c>perSecond</c> requests in any rolling second and
/// <c>perMinute</c> in any rolling minute. A client that passes this passes any fixed-window reading too.
/// </summary>
internal sealed class SlidingWindowLog(int perSecond, int perMinute, TimeProvider time)
{
    private readonly Queue<long> _lastMinute = new();
    private readonly object _sync = new();

    public int PerSecond { get; set; } = perSecond;
    public int PerMinute { get; set; } = perMinute;

    /// <summary>Counts the request if both windows have room; otherwise returns how long until one will.</summary>
    public bool TryAcquire(out TimeSpan retryAfter)
    {
        lock (_sync)
        {
            var now = time.GetTimestamp();
            var minuteAgo = now - (long)(60 * time.TimestampFrequency);
            var secondAgo = now - time.TimestampFrequency;
            while (_lastMinute.Count > 0 && _lastMinute.Peek() <= minuteAgo)
            {
                _lastMinute.Dequeue();
            }

            retryAfter = TimeSpan.Zero;
            if (PerMinute > 0 && _lastMinute.Count >= PerMinute)
            {
                retryAfter = time.GetElapsedTime(minuteAgo, _lastMinute.Peek());
                return false;
            }

            if (PerSecond > 0)
            {
                var inLastSecond = 0;
                long oldestInSecond = 0;
                foreach (var t in _lastMinute.Reverse())
                {
                    if (t <= secondAgo) break;
                    inLastSecond++;
                    oldestInSecond = t;
                }

                if (inLastSecond >= PerSecond)
                {
                    retryAfter = time.GetElapsedTime(secondAgo, oldestInSecond);
                    return false;
                }
            }

            _lastMinute.Enqueue(now);
            return true;
        }
    }

    public void Reset()
    {
        lock (_sync) { _lastMinute.Clear(); }
    }
}
