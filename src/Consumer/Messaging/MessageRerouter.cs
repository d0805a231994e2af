using MassTransit;
using Microsoft.Extensions.Options;
using RabbitMQ.Client;
using FlashdutySync.Sync;

namespace FlashdutySync.Messaging;

/// <summary>
/// Moves a consumed event, body and headers unchanged, to the error queue (with the reason) or to the wait queue
/// (whose TTL dead-letters it back to the service's queue). Each publish is confirmed by the broker before the
/// original is acknowledged: a crash in between duplicates an event, which is harmless, and never loses one.
/// </summary>
public sealed class MessageRerouter(IOptions<RabbitMqOptions> rabbit, IOptions<SyncOptions> sync) : IAsyncDisposable
{
    public const string ReasonHeader = "MT-Fault-Message";
    public const string FirstParkedHeader = "x-sync-first-parked";
    public const string ReasonCodeHeader = "x-sync-reason-code";

    private readonly ConfirmingChannel _broker = new(rabbit.Value.Uri, "flashduty-mapping-sync reroute");

    /// <summary>Declares the error and wait queues.</summary>
    public async Task EnsureQueuesAsync(CancellationToken ct)
    {
        var channel = await ChannelAsync(ct);
        var o = rabbit.Value;
        // Declared as MassTransit declares it (it copies the endpoint's single-active-consumer flag), so that
        // either may come first.
        var errorArguments = o.SingleActiveConsumer ? new Dictionary<string, object?> { ["x-single-active-consumer"] = true } : null;
        await channel.QueueDeclareAsync(o.ErrorQueue, durable: true, exclusive: false, autoDelete: false, arguments: errorArguments, cancellationToken: ct);
        await channel.QueueDeclareAsync(o.WaitQueue, durable: true, exclusive: false, autoDelete: false, arguments: new Dictionary<string, object?>
        {
            ["x-dead-letter-exchange"] = "",
            ["x-dead-letter-routing-key"] = o.QueueName,
            ["x-message-ttl"] = (long)sync.Value.RetryInterval.TotalMilliseconds,
        }, cancellationToken: ct);
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

    public Task ParkAsync(ReceiveContext message, string eventType, DateTimeOffset firstParked, CancellationToken ct) =>
        PublishAsync(message, eventType, rabbit.Value.WaitQueue, new Dictionary<string, object?> { [FirstParkedHeader] = firstParked.ToString("O") }, ct);

    /// <summary>Back to the tail of the service's own queue, for whichever replica consumes next.</summary>
    public Task ReleaseAsync(ReceiveContext message, string eventType, CancellationToken ct) =>
        PublishAsync(message, eventType, rabbit.Value.QueueName, new Dictionary<string, object?>(), ct);

    private async Task PublishAsync(ReceiveContext message, string eventType, string queue, Dictionary<string, object?> add, CancellationToken ct)
    {
        // The message's own AMQP headers, as the publisher set them (not MassTransit's view of them), minus the
        // broker's dead-letter bookkeeping, which grows with every pass through the wait queue.
        var original = (message as RabbitMqBasicConsumeContext)?.Properties.Headers
                       ?? message.TransportHeaders.GetAll().ToDictionary(h => h.Key, h => (object?)h.Value);
        var headers = new Dictionary<string, object?>();
        foreach (var (key, value) in original)
        {
            if (key.StartsWith("x-death", StringComparison.Ordinal) || key.StartsWith("x-first-death", StringComparison.Ordinal) ||
                key.StartsWith("x-last-death", StringComparison.Ordinal)) continue;
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
        var body = message.Body.GetBytes();
        var channel = await ChannelAsync(ct);
        await channel.BasicPublishAsync("", queue, mandatory: true, properties, body, ct);
    }

    private Task<IChannel> ChannelAsync(CancellationToken ct) => _broker.GetAsync(ct);

    public ValueTask DisposeAsync() => _broker.DisposeAsync();
}
