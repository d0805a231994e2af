using FlashdutySync.Sync;
using Inventory.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace FlashdutySync.Messaging;

/// <summary>
/// Moves the service's queues, messages included, to another type (<c>Consumer migrate-queues --to quorum</c>), with
/// every replica stopped. Each queue's messages go to a temporary queue of the new type (each publish confirmed before
/// the original is acknowledged: a crash leaves duplicates, which the service applies harmlessly), the queue is deleted
/// once empty, declared again with the new type, and the messages moved back in their order. While the service's queue
/// moves, its temporary queue is bound to the event exchanges too, so events published meanwhile are kept; the wait
/// queue's messages are held without a TTL until the service's queue is back, so that none is dead-lettered to a queue
/// that does not exist.
/// </summary>
public sealed class QueueMigration(RabbitMqOptions target, SyncOptions sync, TextWriter log)
{
    private const string TemporarySuffix = "_migrating";

    public async Task<int> RunAsync(CancellationToken ct)
    {
        await using var connection = await BrokerNodes.ConnectAsync(target, new ConnectionFactory { ClientProvidedName = "flashduty-mapping-sync migrate-queues" }, ct);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), ct);
        var classicLock = target.QueueName + "_lock";
        var holderLock = target.QueueName + "_holder";
        foreach (var queue in target.TypedQueues.Append(classicLock))
        {
            if (await ConsumersAsync(connection, queue, ct) is > 0 and var consumers)
            {
                await log.WriteLineAsync($"migrate-queues: queue {queue} has {consumers} consumer(s): stop every replica of the service first; nothing was changed");
                return 1;
            }
        }

        if (await ExistsAsync(connection, holderLock, ct))
        {
            await log.WriteLineAsync($"migrate-queues: {holderLock} exists, so a replica holds the journal: stop every replica of the service first; nothing was changed");
            return 1;
        }

        var declarations = ServiceQueues.Declarations(target, sync).ToDictionary(d => d.Name, d => d.Arguments);
        var toMove = new List<string>();
        foreach (var (name, arguments) in declarations)
        {
            if (!await ExistsAsync(connection, name, ct)) continue;
            if (await IsOfTargetTypeAsync(connection, name, arguments, ct)) await log.WriteLineAsync($"migrate-queues: {name} is already a {target.QueueTypeArgument} queue");
            else toMove.Add(name);
        }

        // The wait queue first (held without TTL), the service's queue last but one, the wait queue back last.
        var order = toMove.OrderBy(q => q == target.WaitQueue ? 0 : q == target.QueueName ? 2 : 1).ToList();
        var held = new List<string>();
        foreach (var queue in order)
        {
            var temporary = queue + TemporarySuffix;
            await channel.QueueDeclareAsync(temporary, durable: true, exclusive: false, autoDelete: false, target.QueueArguments(), cancellationToken: ct);
            var isMain = queue == target.QueueName;
            if (isMain) foreach (var (exchange, _) in InventoryExchanges.All) await channel.QueueBindAsync(temporary, exchange, "", cancellationToken: ct);
            var moved = await MoveUntilDeletedAsync(connection, channel, queue, temporary, ct);
            await log.WriteLineAsync($"migrate-queues: {queue}: {moved} message(s) moved aside");
            if (queue == target.WaitQueue)
            {
                held.Add(queue);
                continue;
            }

            await RecreateAsync(connection, channel, queue, declarations[queue], isMain, ct);
        }

        foreach (var queue in held) await RecreateAsync(connection, channel, queue, declarations[queue], isMain: false, ct);
        if (target.QueueType == QueueType.Quorum && await ExistsAsync(connection, classicLock, ct))
        {
            await channel.QueueDeleteAsync(classicLock, ifUnused: true, ifEmpty: false, cancellationToken: ct);
            await log.WriteLineAsync($"migrate-queues: {classicLock} deleted (with quorum queues the lock is the exclusive queue {holderLock})");
        }

        await log.WriteLineAsync($"migrate-queues: done; {toMove.Count} queue(s) are now {target.QueueTypeArgument}; start the service with RabbitMq__QueueType={target.QueueTypeArgument}");
        return 0;
    }

    private async Task RecreateAsync(IConnection connection, IChannel channel, string queue, Dictionary<string, object?> arguments, bool isMain, CancellationToken ct)
    {
        var temporary = queue + TemporarySuffix;
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: ct);
        if (isMain)
        {
            foreach (var (exchange, _) in InventoryExchanges.All) await channel.QueueBindAsync(queue, exchange, "", cancellationToken: ct);
            // Both are bound now; once the temporary one is unbound, what it holds is all it will ever hold.
            foreach (var (exchange, _) in InventoryExchanges.All) await channel.QueueUnbindAsync(temporary, exchange, "", cancellationToken: ct);
        }

        var back = await MoveUntilDeletedAsync(connection, channel, temporary, queue, ct);
        await log.WriteLineAsync($"migrate-queues: {queue}: now {target.QueueTypeArgument}, {back} message(s) moved back");
    }

    /// <summary>Moves every message, then deletes the source once it is empty (more may arrive while moving).</summary>
    private static async Task<long> MoveUntilDeletedAsync(IConnection connection, IChannel channel, string from, string to, CancellationToken ct)
    {
        long moved = 0;
        while (true)
        {
            while (await QueueReader.TakeAsync(channel, from, 1000, TimeSpan.FromSeconds(2), ct) is { Count: > 0 } batch)
            {
                foreach (var message in batch)
                {
                    await channel.BasicPublishAsync("", to, mandatory: true, Keeping(message), message.Body, ct);
                    await channel.BasicAckAsync(message.DeliveryTag, multiple: false, ct);
                    moved++;
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

    private static async Task<bool> IsOfTargetTypeAsync(IConnection connection, string queue, Dictionary<string, object?> arguments, CancellationToken ct)
    {
        await using var probe = await connection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            await probe.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: ct);
            return true;
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason is { ReplyCode: 406 } reason)
        {
            if (reason.ReplyText.Contains("x-queue-type", StringComparison.Ordinal)) return false;
            throw new InvalidOperationException($"queue {queue} exists with other arguments than the service's configuration gives it (the broker: {reason.ReplyText}); " +
                                                "run migrate-queues with the service's own configuration (Sync:RetryInterval sets the wait queue's TTL)", ex);
        }
    }
}
