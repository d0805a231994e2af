using RabbitMQ.Client;

namespace InventoryPublisher;

/// <summary>
/// Moves events from the service's <c>_error</c> queue back to its queue once the cause is fixed, body and headers
/// unchanged. Each message is published (confirmed by the broker) before it is removed from the error queue: a
/// crash in between leaves a duplicate, which the service applies harmlessly, never a loss.
/// </summary>
public static class ErrorQueueMover
{
    /// <summary>The header naming an event's exchange, as the service sets it on the events it moves.</summary>
    public const string EventTypeHeader = "x-inventory-event";

    public sealed record Result(int Moved, int Left, IReadOnlyList<string> Problems);

    /// <summary>
    /// Moves up to <paramref name="limit"/> messages; <paramref name="eventExchange"/> names the event of plain
    /// messages that do not say which event they are (plain JSON the service could not read).
    /// </summary>
    public static async Task<Result> MoveAsync(Uri broker, string queue, int? limit, string? eventExchange, CancellationToken ct)
    {
        await using var connection = await new ConnectionFactory { Uri = broker, ClientProvidedName = "inventory-publisher move-errors" }.CreateConnectionAsync(ct);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), ct);
        var errorQueue = queue + "_error";
        await channel.QueueDeclarePassiveAsync(errorQueue, ct);
        var moved = 0;
        var problems = new List<string>();
        // Messages that cannot move stay unacknowledged until the end, so that the loop does not meet them again.
        var unmovable = new List<ulong>();
        // Consumed, not basic.get: a quorum error queue (single active consumer, as MassTransit declares it) refuses basic.get.
        var present = (await channel.QueueDeclarePassiveAsync(errorQueue, ct)).MessageCount;
        var deliveries = System.Threading.Channels.Channel.CreateUnbounded<(ulong DeliveryTag, IReadOnlyBasicProperties BasicProperties, byte[] Body)>();
        var consumer = new RabbitMQ.Client.Events.AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, d) =>
        {
            deliveries.Writer.TryWrite((d.DeliveryTag, new BasicProperties(d.BasicProperties), d.Body.ToArray()));
            return Task.CompletedTask;
        };
        await channel.BasicQosAsync(0, 100, global: false, ct);
        var consumerTag = present == 0 ? null : await channel.BasicConsumeAsync(errorQueue, autoAck: false, consumer, ct);
        var seen = 0L;
        while (moved < (limit ?? int.MaxValue) && seen < present)
        {
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
            idle.CancelAfter(TimeSpan.FromSeconds(3));
            (ulong DeliveryTag, IReadOnlyBasicProperties BasicProperties, byte[] Body) message;
            try
            {
                message = await deliveries.Reader.ReadAsync(idle.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                break; // nothing more comes (the prefetch is full of unmovable messages, or another consumer is active)
            }

            seen++;
            var headers = new Dictionary<string, object?>(message.BasicProperties.Headers ?? new Dictionary<string, object?>());
            // A fresh start for the wait for a complete row.
            headers.Remove("x-sync-first-parked");
            var isEnvelope = message.BasicProperties.ContentType?.Contains("masstransit", StringComparison.OrdinalIgnoreCase) == true;
            if (!headers.ContainsKey(EventTypeHeader) && !isEnvelope)
            {
                if (eventExchange is null)
                {
                    problems.Add($"message {message.BasicProperties.MessageId ?? message.DeliveryTag.ToString(System.Globalization.CultureInfo.InvariantCulture)} does not say which event it is; pass --event");
                    unmovable.Add(message.DeliveryTag);
                    continue;
                }

                headers[EventTypeHeader] = eventExchange;
            }

            var properties = new BasicProperties(message.BasicProperties) { Headers = headers, Persistent = true };
            await channel.BasicPublishAsync("", queue, mandatory: true, properties, message.Body, ct);
            await channel.BasicAckAsync(message.DeliveryTag, multiple: false, ct);
            moved++;
        }

        if (consumerTag is not null) await channel.BasicCancelAsync(consumerTag, cancellationToken: ct);
        while (deliveries.Reader.TryRead(out var extra)) unmovable.Add(extra.DeliveryTag);
        // Counted before the unmovable ones go back: a requeue is not counted at once.
        var left = (int)(await channel.QueueDeclarePassiveAsync(errorQueue, ct)).MessageCount + unmovable.Count;
        foreach (var tag in unmovable) await channel.BasicNackAsync(tag, multiple: false, requeue: true, ct);
        return new Result(moved, left, problems);
    }
}
