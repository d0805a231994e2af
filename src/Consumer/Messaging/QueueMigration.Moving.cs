using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace FlashdutySync.Messaging;

/// <summary>Moving a queue's messages, and what the migration asks the broker about a queue.</summary>
public sealed partial class QueueMigration
{
    // Publishes in flight before their confirms are awaited together: one at a time waited a round trip each (on a
    // quorum queue, a write replicated to a majority), a few hundred share one.
    private const int ConfirmBatch = 256;

    /// <summary>How many moved messages between two progress lines. Default 10,000.</summary>
    public int ProgressEvery { get; init; } = 10_000;

    /// <summary>
    /// Moves every message, then deletes the source once it is empty (more may arrive while moving). On a channel of
    /// its own: RabbitMQ 3.10 keeps a channel's state of a queue it consumed by the queue's name, and a publish on that
    /// channel to a queue of the same name declared again with the other type crashes it (541, seen moving back to
    /// classic).
    /// </summary>
    private async Task<long> MoveUntilDeletedAsync(IConnection connection, string from, string to, CancellationToken ct)
    {
        // No rate limiter on the confirms: a batch bounds the publishes in flight, and the client's throttling limiter
        // would delay each publish past half its limit by up to a second, letting a later one overtake it.
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true, outstandingPublisherConfirmationsRateLimiter: null), ct);
        long moved = 0;
        while (true)
        {
            while (await QueueReader.TakeAsync(channel, from, 1000, TimeSpan.FromSeconds(2), ct) is { Count: > 0 } batch)
            {
                foreach (var chunk in batch.Chunk(ConfirmBatch))
                {
                    // Started in order on one channel, they reach the queue in order; awaited together.
                    var confirms = chunk.Select(m => channel.BasicPublishAsync("", to, mandatory: true, Keeping(m), m.Body, ct).AsTask()).ToList();
                    await Task.WhenAll(confirms);
                    // Every one of the chunk is confirmed: its originals go, with one acknowledgement (deliveries on a
                    // channel are numbered in order, and those before the chunk's were acknowledged already).
                    await channel.BasicAckAsync(chunk[^1].DeliveryTag, multiple: true, ct);
                    if ((moved + chunk.Length) / ProgressEvery > moved / ProgressEvery)
                        await log.WriteLineAsync($"migrate-queues: {from}: {moved + chunk.Length} message(s) moved so far");
                    moved += chunk.Length;
                }
            }

            // Quorum queues refuse delete-if-empty. What can still arrive is safe to lose here: events published to the
            // service's queue also reach its bound temporary queue, and the wait queue (the one other source) moved first.
            if ((await channel.QueueDeclarePassiveAsync(from, ct)).MessageCount > 0) continue;
            await channel.QueueDeleteAsync(from, ifUnused: false, ifEmpty: false, cancellationToken: ct);
            return moved;
        }
    }

    /// <summary>
    /// The message's properties, and the event it is: a plain JSON event is told by the exchange it came from, which
    /// a move through the default exchange loses, so it goes into the header the service reads first (as the
    /// rerouter and move-errors set it).
    /// </summary>
    private static BasicProperties Keeping(QueuedMessage message)
    {
        var properties = new BasicProperties(message.Properties);
        if (message.Exchange.Length > 0 && properties.Headers?.ContainsKey(InventoryEventDeserializer.EventTypeHeader) != true)
            properties.Headers = new Dictionary<string, object?>(properties.Headers ?? new Dictionary<string, object?>()) { [InventoryEventDeserializer.EventTypeHeader] = message.Exchange };
        return properties;
    }

    private static async Task<bool> ExistsAsync(IConnection connection, string queue, CancellationToken ct) => await ConsumersAsync(connection, queue, ct) is not null;

    private static async Task<uint?> ConsumersAsync(IConnection connection, string queue, CancellationToken ct)
    {
        await using var probe = await connection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            return (await probe.QueueDeclarePassiveAsync(queue, ct)).ConsumerCount;
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode is 404 or 405)
        {
            // 405: an exclusive queue of another connection (a running holder) exists.
            return ex.ShutdownReason.ReplyCode == 405 ? 1u : null;
        }
    }
}
