using System.Collections.Concurrent;
using MassTransit;

namespace FlashdutySync.Messaging;

/// <summary>
/// Makes batches return (and so be acknowledged) in the order RabbitMQ delivered them, for a bounded time: a batch
/// returns once every batch delivered before it has been acknowledged.
/// </summary>
/// <remarks>
/// A RabbitMQ 3.x queue keeps each consumer's unacknowledged deliveries in a queue and settles a single
/// acknowledgement by scanning it from the head, so an acknowledgement costs as much as the older deliveries still
/// unacknowledged. The service holds up to limit × concurrency (20,000) deliveries while their rows coalesce, and
/// MassTransit acknowledges one message at a time. Left to the thread pool, the acknowledgements of consecutive
/// batches came out in bursts of reversed order (its per-thread queues run the newest work first): a 100,000-event
/// backlog kept the broker's queue process at 100% CPU in <c>rabbit_queue_consumers:subtract_acks</c> and drained at
/// ~1.5k events/s while the service sat idle (measured; a bare RabbitMQ.Client consumer holding 20,000 deliveries
/// acknowledges 48k/s in order and 3k/s in random order). Returning a batch only when the ones before it are
/// acknowledged keeps each scan within one batch. The wait is bounded (<see cref="MaxWait"/>): order is a cost
/// saving, never a reason to hold an event whose effect is already in Flashduty.
/// </remarks>
public sealed class AckOrder(TimeProvider time) : IReceiveObserver
{
    /// <summary>Longest a finished batch waits for the batches delivered before it to be acknowledged.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(2);

    private readonly SortedDictionary<(ulong Tag, long Seq), Entry> _open = [];
    private readonly ConcurrentDictionary<object, Entry> _byMessage = new(ReferenceEqualityComparer.Instance);
    private long _seq;

    /// <summary>Registers a batch as it starts. Without RabbitMQ delivery tags there is no order to keep.</summary>
    public Ticket Enter(IEnumerable<ReceiveContext> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ulong? first = null;
        var contexts = new List<object>();
        foreach (var m in messages)
        {
            contexts.Add(m);
            if (m is RabbitMqBasicConsumeContext rabbit && (first is null || rabbit.DeliveryTag < first)) first = rabbit.DeliveryTag;
        }

        return first is { } tag ? Enter(contexts, tag) : default;
    }

    /// <summary>Registers a batch of messages (each settled later by <see cref="Settled"/>) whose first delivery tag is given.</summary>
    public Ticket Enter(List<object> messages, ulong firstTag)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var entry = new Entry((firstTag, Interlocked.Increment(ref _seq)), messages);
        lock (_open)
        {
            _open.Add(entry.Key, entry);
            foreach (var m in messages) _byMessage[m] = entry;
        }

        return new Ticket(entry);
    }

    /// <summary>
    /// Waits, at most <see cref="MaxWait"/>, until every batch delivered before this one is acknowledged. Never
    /// throws: on cancellation or timeout the batch returns out of order.
    /// </summary>
    public async Task LeaveAsync(Ticket ticket, CancellationToken ct)
    {
        if (ticket.Entry is not { } entry) return;
        lock (_open)
        {
            entry.Returning = true;
            if (IsFirst(entry) || ct.IsCancellationRequested) return;
        }

        await entry.Turn.Task.WaitAsync(MaxWait, time, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (entry.Turn.Task.IsCompleted) return;
        lock (_open)
        {
            // Timed out: the batches ahead that returned long ago lost their acknowledgements' news (a closed channel,
            // say). Forget them so that they do not hold every later batch too.
            foreach (var ahead in _open.Values.TakeWhile(e => e != entry).Where(e => e.Returning).ToList()) Remove(ahead);
        }
    }

    /// <summary>Batches registered and not yet acknowledged (for tests and diagnostics).</summary>
    public int Open
    {
        get
        {
            lock (_open) return _open.Count;
        }
    }

    public Task PreReceive(ReceiveContext context) => Task.CompletedTask;

    public Task PostReceive(ReceiveContext context)
    {
        Settled(context);
        return Task.CompletedTask;
    }

    public Task ReceiveFault(ReceiveContext context, Exception exception)
    {
        Settled(context);
        return Task.CompletedTask;
    }

    public Task PostConsume<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType) where T : class => Task.CompletedTask;

    public Task ConsumeFault<T>(ConsumeContext<T> context, TimeSpan duration, string consumerType, Exception exception) where T : class => Task.CompletedTask;

    /// <summary>A message was acknowledged (or its receive failed).</summary>
    public void Settled(object context)
    {
        if (!_byMessage.TryRemove(context, out var entry)) return;
        lock (_open)
        {
            if (--entry.Outstanding == 0) Remove(entry);
        }
    }

    private bool IsFirst(Entry entry)
    {
        using var e = _open.Values.GetEnumerator();
        return e.MoveNext() && e.Current == entry;
    }

    // Under the lock. Removing the first batch gives the turn to the next, if it is waiting to return.
    private void Remove(Entry entry)
    {
        var wasFirst = IsFirst(entry);
        if (!_open.Remove(entry.Key)) return;
        foreach (var m in entry.Messages) _byMessage.TryRemove(m, out _);
        if (!wasFirst) return;
        using var e = _open.Values.GetEnumerator();
        if (e.MoveNext() && e.Current.Returning) e.Current.Turn.TrySetResult();
    }

    public readonly record struct Ticket(Entry? Entry);

    public sealed class Entry((ulong, long) key, List<object> messages)
    {
        internal (ulong Tag, long Seq) Key { get; } = key;
        internal List<object> Messages { get; } = messages;
        internal int Outstanding { get; set; } = messages.Count;
        internal bool Returning { get; set; }
        internal TaskCompletionSource Turn { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
