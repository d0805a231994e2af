using System.Collections.Concurrent;
using MassTransit;

namespace FlashdutySync.Sync;

/// <summary>
/// Tells the schema writers when holding on gains nothing more: every event the broker has delivered has been
/// applied and journaled and nothing arrived for a quiet period (nothing is on its way in). Until then, rows keep
/// coalescing: a key changed ten times in a burst costs one doc, not ten. Also tells an incomplete batch when to look
/// again (<see cref="IsQuiet"/>: drained, or a type's batch slots all taken).
/// </summary>
public sealed class InflowTracker(int batchSlotsPerType, Action? onFirstDelivery = null, TimeProvider? time = null, TimeSpan? quietPeriod = null,
    TimeSpan? streamQuietPeriod = null) : IReceiveObserver
{
    /// <summary>Arrivals closer than this on average make a stream, not a trickle.</summary>
    private static readonly TimeSpan StreamGap = TimeSpan.FromMilliseconds(10);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private static readonly SyncOptions Defaults = new();
    private readonly TimeSpan _trickleQuiet = quietPeriod ?? Defaults.QuietPeriod;
    private readonly TimeSpan _streamQuiet = streamQuietPeriod ?? Defaults.StreamQuietPeriod;
    private double _averageGapTicks = double.MaxValue;
    private long _lastArrival;
    private int _delivered;
    private int _unappliedCount;
    private int _blockedTypes;
    private int _journaling;
    private readonly ConcurrentDictionary<object, byte> _unapplied = new(ReferenceEqualityComparer.Instance);
    private readonly ConcurrentDictionary<string, int> _activeBatches = new();
    private readonly object _sync = new();
    private TaskCompletionSource _quiet = NewQuiet();

    /// <summary>Batches being processed (applied, or waiting for their rows) right now.</summary>
    public int ActiveBatches => _activeBatches.Values.Sum();

    /// <summary>
    /// True when <see cref="IsDrained"/> (nothing delivered waits to be applied or journaled, nothing arrived for the
    /// quiet period), or when a type's batch slots are all taken.
    /// </summary>
    public bool IsQuiet => IsDrained || IsBlocked;

    /// <summary>
    /// Nothing delivered waits to be applied or journaled (no batch between <see cref="Journaling"/> and
    /// <see cref="Journaled"/>), and nothing arrived for the quiet period.
    /// A pause while batches wait on the journal (a compaction, a GC) is the service's own, not the inflow's end: in a
    /// backlog drain such pauses made a schema write each time, 5–8 requests where 3 do.
    /// </summary>
    public bool IsDrained => Volatile.Read(ref _unappliedCount) == 0 && Volatile.Read(ref _journaling) == 0 &&
                             _time.GetElapsedTime(Interlocked.Read(ref _lastArrival)) >= QuietPeriod;

    /// <summary>A type's batch slots are all taken: nothing more of it can come in until a batch is acknowledged.</summary>
    public bool IsBlocked => Volatile.Read(ref _blockedTypes) > 0;

    /// <summary>
    /// How long without arrivals counts as quiet: short for a trickle (light load: write at once), longer while
    /// events stream in (a stream has short pauses that are not its end; writing in each wastes requests).
    /// </summary>
    private TimeSpan QuietPeriod => Volatile.Read(ref _averageGapTicks) < StreamGap.TotalSeconds * _time.TimestampFrequency ? _streamQuiet : _trickleQuiet;

    /// <summary>Completes once <see cref="IsQuiet"/> (checked again after the quiet period, as arrivals stop).</summary>
    public Task WhenQuietAsync(CancellationToken ct) => WhenAsync(() => IsQuiet, ct);

    /// <summary>Completes once <see cref="IsDrained"/>: what a schema's writer waits for to coalesce a stream.</summary>
    public Task WhenDrainedAsync(CancellationToken ct) => WhenAsync(() => IsDrained, ct);

    private async Task WhenAsync(Func<bool> condition, CancellationToken ct)
    {
        while (!condition())
        {
            Task signal;
            lock (_sync) signal = _quiet.Task;
            await Task.WhenAny(signal, Task.Delay(_trickleQuiet, _time, ct)).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
        }
    }

    public void Applied(ReceiveContext message) => Applied((object)message);

    /// <summary>A delivery (any object standing for one) is applied or will never be.</summary>
    internal void Applied(object message)
    {
        // Lock-free on the hot path: only the last one applied signals.
        if (_unapplied.TryRemove(message, out _) && Interlocked.Decrement(ref _unappliedCount) == 0) Update();
    }

    /// <summary>A batch applies its events and waits for their journal record.</summary>
    public void Journaling() => Interlocked.Increment(ref _journaling);

    /// <summary>The batch's events are journaled (or it gave up): wakes the writers once none is left.</summary>
    public void Journaled()
    {
        if (Interlocked.Decrement(ref _journaling) == 0) Update();
    }

    public void BatchStarted(string type)
    {
        if (_activeBatches.AddOrUpdate(type, 1, (_, n) => n + 1) == batchSlotsPerType)
        {
            Interlocked.Increment(ref _blockedTypes);
            Update();
        }
    }

    public void BatchEnded(string type)
    {
        if (_activeBatches.AddOrUpdate(type, 0, (_, n) => n - 1) == batchSlotsPerType - 1) Interlocked.Decrement(ref _blockedTypes);
    }

    /// <summary>Wakes the waiters, who check <see cref="IsQuiet"/> themselves (arrivals may have resumed).</summary>
    private void Update()
    {
        TaskCompletionSource woken;
        lock (_sync)
        {
            woken = _quiet;
            _quiet = NewQuiet();
        }

        woken.TrySetResult();
    }

    private static TaskCompletionSource NewQuiet() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task PreReceive(ReceiveContext context)
    {
        Arrived(context);
        return Task.CompletedTask;
    }

    /// <summary>A delivery (any object standing for one) came in and waits to be applied.</summary>
    internal void Arrived(object context)
    {
        if (Interlocked.Exchange(ref _delivered, 1) == 0) onFirstDelivery?.Invoke();
        var now = _time.GetTimestamp();
        var previous = Interlocked.Exchange(ref _lastArrival, now);
        // An average of the gaps between arrivals, weighted to the recent ones; races only blur it.
        var gap = previous == 0 ? double.MaxValue / 2 : now - previous;
        var average = Volatile.Read(ref _averageGapTicks);
        Volatile.Write(ref _averageGapTicks, average >= double.MaxValue / 2 ? gap : (average * 0.9) + (gap * 0.1));
        if (_unapplied.TryAdd(context, 0)) Interlocked.Increment(ref _unappliedCount);
    }

    public Task PostReceive(ReceiveContext context)
    {
        // A batch consumer's message ends its receive once it sits in the batch collector (delivered): it is applied
        // later. One no consumer took (skipped) will never be.
        if (!context.IsDelivered) Applied(context);
        return Task.CompletedTask;
    }

    public Task ReceiveFault(ReceiveContext context, Exception exception)
    {
        Applied(context);
        return Task.CompletedTask;
    }

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType) where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception) where T : class => Task.CompletedTask;
}
