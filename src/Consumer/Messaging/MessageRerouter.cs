using System.Text;
using MassTransit;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using RabbitMQ.Client;
using FlashdutySync.Sync;

namespace FlashdutySync.Messaging;

/// <summary>
/// Moves a consumed event, body and headers unchanged, to the error queue (with the reason) or to the wait queue
/// (whose TTL dead-letters it back to the service's queue); and puts the journaled copy of an acknowledged event
/// in the error queue when Flashduty refuses its row. Each publish is confirmed by the broker before the original
/// is acknowledged: a crash in between duplicates an event, which is harmless, and never loses one. A publish that
/// fails is tried again (a queue deleted under the service is declared again): one failed publish used to fault
/// its whole batch, sending every event of it to the error queue (#13 defect 5).
/// </summary>
public sealed class MessageRerouter(IOptions<RabbitMqOptions> rabbit, IOptions<SyncOptions> sync) : IRefusedEvents, IAsyncDisposable
{
    private const int RecentLimit = 10_000;
    private readonly HashSet<string> _recent = new(StringComparer.Ordinal);
    private readonly Queue<string> _recentOrder = new();
    private readonly ResiliencePipeline _retry = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
    {
        ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException),
        MaxRetryAttempts = 6,
        BackoffType = DelayBackoffType.Exponential,
        Delay = TimeSpan.FromMilliseconds(100),
        MaxDelay = TimeSpan.FromSeconds(5),
        UseJitter = true,
    }).Build();

    public const string ReasonHeader = "MT-Fault-Message";
    public const string FirstParkedHeader = "x-sync-first-parked";
    public const string ReasonCodeHeader = "x-sync-reason-code";

    private readonly ConfirmingChannel _broker = new(rabbit.Value, "flashduty-mapping-sync reroute");

    /// <summary>Declares the error and wait queues.</summary>
    public async Task EnsureQueuesAsync(CancellationToken ct)
    {
        var channel = await ChannelAsync(ct);
        var o = rabbit.Value;
        await channel.QueueDeclareAsync(o.ErrorQueue, durable: true, exclusive: false, autoDelete: false, arguments: ErrorQueueArguments(o), cancellationToken: ct);
        await channel.QueueDeclareAsync(o.WaitQueue, durable: true, exclusive: false, autoDelete: false, arguments: WaitQueueArguments(o, sync.Value), cancellationToken: ct);
    }

    /// <summary>As MassTransit declares it (it copies every argument of the endpoint's queue: the type, single-active-consumer), so that either may come first.</summary>
    public static Dictionary<string, object?> ErrorQueueArguments(RabbitMqOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        return o.QueueArguments(o.SingleActiveConsumer ? new Dictionary<string, object?> { ["x-single-active-consumer"] = true } : null);
    }

    /// <summary>
    /// A per-queue TTL that dead-letters back to the service's queue. A quorum queue dead-letters at most once unless
    /// told otherwise (a message expiring while the target has no leader would be dropped): at-least-once, which 3.10
    /// allows only with reject-publish overflow.
    /// </summary>
    public static Dictionary<string, object?> WaitQueueArguments(RabbitMqOptions o, SyncOptions sync)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(sync);
        var own = new Dictionary<string, object?>
        {
            ["x-dead-letter-exchange"] = "",
            ["x-dead-letter-routing-key"] = o.QueueName,
            ["x-message-ttl"] = (long)sync.RetryInterval.TotalMilliseconds,
        };
        if (o.QueueType == QueueType.Quorum)
        {
            own["x-dead-letter-strategy"] = "at-least-once";
            own["x-overflow"] = "reject-publish";
        }

        return o.QueueArguments(own);
    }

    public Task SetAsideAsync(ReceiveContext message, string eventType, string reasonCode, string reason, IReadOnlyDictionary<string, object?>? extra,
        CancellationToken ct)
    {
        var headers = new Dictionary<string, object?>
        {
            ["MT-Reason"] = "set-aside",
            [ReasonHeader] = reason,
            [ReasonCodeHeader] = reasonCode,
            ["MT-Fault-Timestamp"] = DateTimeOffset.UtcNow.ToString("O"),
            ["MT-Fault-InputAddress"] = message.InputAddress.ToString(),
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, object?>()) headers[k] = v;
        return PublishAsync(message, eventType, rabbit.Value.ErrorQueue, headers, ct);
    }

    /// <summary>The copy of an acknowledged event whose row Flashduty refused, to the error queue with Flashduty's answer.</summary>
    public async Task SetAsideAsync(EventCopy copy, string schemaId, KeyOutcome outcome, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(copy);
        ArgumentNullException.ThrowIfNull(outcome);
        // An event feeding several schemas may be refused by each: it goes to the error queue once, with the first reason.
        lock (_recent)
        {
            if (!_recent.Add(copy.Identity)) return;
            _recentOrder.Enqueue(copy.Identity);
            if (_recentOrder.Count > RecentLimit) _recent.Remove(_recentOrder.Dequeue());
        }

        var headers = new Dictionary<string, object?>();
        foreach (var (key, value) in copy.Headers) headers[key] = value;
        headers["MT-Reason"] = "set-aside";
        headers[ReasonHeader] = $"{copy.Description}: {outcome.Reason}";
        headers[ReasonCodeHeader] = "refused-by-flashduty";
        headers["MT-Fault-Timestamp"] = DateTimeOffset.UtcNow.ToString("O");
        if (copy.InputAddress is not null) headers["MT-Fault-InputAddress"] = copy.InputAddress;
        headers["x-sync-schema-id"] = schemaId;
        if (outcome.RequestId is not null) headers["x-flashduty-request-id"] = outcome.RequestId;
        if (outcome.ErrorCode is not null) headers["x-flashduty-error-code"] = outcome.ErrorCode;
        headers[InventoryEventDeserializer.EventTypeHeader] = copy.EventType;
        var properties = new BasicProperties { ContentType = copy.ContentType, MessageId = copy.MessageId, Persistent = true, Headers = headers };
        try
        {
            await PublishConfirmedAsync(rabbit.Value.ErrorQueue, properties, copy.Body, ct);
        }
        catch
        {
            lock (_recent) _recent.Remove(copy.Identity);
            throw;
        }
    }

    /// <summary>True once the copy is in the error queue (or on its way there), until the event is consumed again.</summary>
    public bool WasSetAside(EventCopy copy)
    {
        ArgumentNullException.ThrowIfNull(copy);
        lock (_recent) return _recent.Contains(copy.Identity);
    }

    /// <summary>
    /// The event is consumed again (moved back from the error queue, say): should it be refused again, it goes to the
    /// error queue again. Until then, a refusal by a second schema does not set it aside twice.
    /// </summary>
    public void Consumed(EventCopy copy)
    {
        ArgumentNullException.ThrowIfNull(copy);
        lock (_recent)
        {
            if (_recent.Count > 0) _recent.Remove(copy.Identity);
        }
    }

    /// <summary>What the journal keeps of a consumed event: body and headers as the publisher sent them.</summary>
    public static EventCopy CopyOf(ReceiveContext message, string eventType, InventoryEvent e)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(e);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in OriginalHeaders(message))
        {
            headers[key] = value switch
            {
                null => "",
                byte[] bytes => Encoding.UTF8.GetString(bytes),
                _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
            };
        }

        return new EventCopy(eventType, (message as RabbitMqBasicConsumeContext)?.Properties.MessageId, message.ContentType?.MediaType, message.Body.GetBytes(),
            headers, message.InputAddress?.ToString(), e.OccurredAt, e.Describe());
    }

    public Task ParkAsync(ReceiveContext message, string eventType, DateTimeOffset firstParked, CancellationToken ct) =>
        PublishAsync(message, eventType, rabbit.Value.WaitQueue, new Dictionary<string, object?> { [FirstParkedHeader] = firstParked.ToString("O") }, ct);

    /// <summary>Back to the tail of the service's own queue, for whichever replica consumes next.</summary>
    public Task ReleaseAsync(ReceiveContext message, string eventType, CancellationToken ct) =>
        PublishAsync(message, eventType, rabbit.Value.QueueName, new Dictionary<string, object?>(), ct);

    private async Task PublishAsync(ReceiveContext message, string eventType, string queue, Dictionary<string, object?> add, CancellationToken ct)
    {
        var headers = new Dictionary<string, object?>();
        foreach (var (key, value) in OriginalHeaders(message))
        {
            headers[key] = value switch
            {
                null or string or byte[] or int or long or bool or double or float or decimal or AmqpTimestamp or IList<object> or IDictionary<string, object?> => value,
                ulong u => (long)u,
                _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture),
            };
        }

        foreach (var (key, value) in add) headers[key] = value;
        headers[InventoryEventDeserializer.EventTypeHeader] = eventType;
        var properties = new BasicProperties
        {
            ContentType = message.ContentType?.MediaType,
            MessageId = (message as RabbitMqBasicConsumeContext)?.Properties.MessageId,
            Persistent = true,
            Headers = headers,
        };
        await PublishConfirmedAsync(queue, properties, message.Body.GetBytes(), ct);
    }

    /// <summary>
    /// The message's own AMQP headers, as the publisher set them (not MassTransit's view of them), minus the broker's
    /// dead-letter bookkeeping, which grows with every pass through the wait queue.
    /// </summary>
    private static IEnumerable<KeyValuePair<string, object?>> OriginalHeaders(ReceiveContext message)
    {
        var original = (message as RabbitMqBasicConsumeContext)?.Properties.Headers
                       ?? message.TransportHeaders.GetAll().ToDictionary(h => h.Key, h => (object?)h.Value);
        return original.Where(h => !h.Key.StartsWith("x-death", StringComparison.Ordinal) && !h.Key.StartsWith("x-first-death", StringComparison.Ordinal) &&
                                   !h.Key.StartsWith("x-last-death", StringComparison.Ordinal));
    }

    private async Task PublishConfirmedAsync(string queue, BasicProperties properties, byte[] body, CancellationToken ct) =>
        await _retry.ExecuteAsync(async token =>
        {
            var channel = await ChannelAsync(token);
            try
            {
                await channel.BasicPublishAsync("", queue, mandatory: true, properties, body, token);
            }
            catch (RabbitMQ.Client.Exceptions.PublishException returned) when (returned.IsReturn)
            {
                // No such queue (deleted under the service): declared again before the next try.
                await EnsureQueuesAsync(token);
                throw;
            }
        }, ct);

    private Task<IChannel> ChannelAsync(CancellationToken ct) => _broker.GetAsync(ct);

    public ValueTask DisposeAsync() => _broker.DisposeAsync();
}
