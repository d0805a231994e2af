using FlashdutySync.Sync;
using Inventory.Contracts;
using RabbitMQ.Client;

namespace FlashdutySync.Messaging;

/// <summary>
/// Moves the service's queues, messages included, to another type (<c>Consumer migrate-queues --to quorum</c>), with
/// every replica stopped. Each queue's messages go to a temporary queue <c>&lt;queue&gt;_migrating</c> of the new type
/// (published in batches, each batch confirmed before its originals are acknowledged: a crash leaves duplicates, which
/// the service applies harmlessly), the queue is deleted once empty, declared again with the new type, and the
/// messages moved back. While the service's queue moves, its temporary queue is bound to the event exchanges too, so
/// events published meanwhile are kept; the wait queue's messages are held without a TTL until the service's queue is
/// back, so that none is dead-lettered to a queue that does not exist.
/// </summary>
/// <remarks>
/// Every run first finishes what an interrupted one left (see <see cref="RecoverAsync"/>), so running it again after a
/// crash at any step, or twice, ends with every message in its queue of the target type.
/// </remarks>
public sealed partial class QueueMigration(RabbitMqOptions target, SyncOptions sync, TextWriter log)
{
    private const string TemporarySuffix = "_migrating";

    public async Task<int> RunAsync(CancellationToken ct)
    {
        await using var connection = await BrokerNodes.ConnectAsync(target, new ConnectionFactory { ClientProvidedName = "flashduty-mapping-sync migrate-queues" }, ct);
        // Declarations and bindings; each move has a channel of its own (see MoveUntilDeletedAsync).
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
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

        var declarations = ServiceQueues.Declarations(target, sync);
        var arguments = declarations.ToDictionary(d => d.Name, d => d.Arguments);
        var recovered = await RecoverAsync(connection, channel, declarations, ct);
        var toMove = await QueuesOfTheOtherTypeAsync(connection, declarations, ct);

        // The wait queue first (held without TTL), the service's queue last but one, the wait queue back last.
        var order = toMove.OrderBy(q => q == target.WaitQueue ? 0 : q == target.QueueName ? 2 : 1).ToList();
        var held = new List<string>();
        foreach (var queue in order)
        {
            var temporary = queue + TemporarySuffix;
            await channel.QueueDeclareAsync(temporary, durable: true, exclusive: false, autoDelete: false, target.QueueArguments(), cancellationToken: ct);
            if (queue == target.QueueName) foreach (var (exchange, _) in InventoryExchanges.All) await channel.QueueBindAsync(temporary, exchange, "", cancellationToken: ct);
            var moved = await MoveUntilDeletedAsync(connection, queue, temporary, ct);
            await log.WriteLineAsync($"migrate-queues: {queue}: {moved} message(s) moved aside");
            if (queue == target.WaitQueue) held.Add(queue);
            else await RecreateAsync(connection, channel, queue, arguments[queue], ct);
        }

        foreach (var queue in held) await RecreateAsync(connection, channel, queue, arguments[queue], ct);
        if (target.QueueType == QueueType.Quorum && await ExistsAsync(connection, classicLock, ct))
        {
            await channel.QueueDeleteAsync(classicLock, ifUnused: true, ifEmpty: false, cancellationToken: ct);
            await log.WriteLineAsync($"migrate-queues: {classicLock} deleted (with quorum queues the lock is the exclusive queue {holderLock})");
        }

        var left = new List<string>();
        foreach (var (name, _) in declarations)
            if (await ExistsAsync(connection, name + TemporarySuffix, ct)) left.Add(name + TemporarySuffix);
        if (left.Count > 0)
        {
            await log.WriteLineAsync($"migrate-queues: not done: {string.Join(", ", left)} still hold(s) messages; run migrate-queues again");
            return 1;
        }

        await log.WriteLineAsync(toMove.Count == 0 && recovered == 0
            ? $"migrate-queues: nothing to do: every queue of the service is already {target.QueueTypeArgument}; start the service with RabbitMq__QueueType={target.QueueTypeArgument}"
            : $"migrate-queues: done; {toMove.Count} queue(s) moved, {recovered} left by an interrupted run moved back; every queue is now {target.QueueTypeArgument}; " +
              $"start the service with RabbitMq__QueueType={target.QueueTypeArgument}");
        return 0;
    }

    /// <summary>
    /// Finishes what an interrupted run left: each <c>&lt;queue&gt;_migrating</c> goes back into its queue, declared with
    /// the target type if it is gone (or into the old-type queue if the run stopped before deleting it, which this run
    /// then moves as usual), unbound from the event exchanges first. The service's queue first: the wait queue
    /// dead-letters into it.
    /// </summary>
    private async Task<int> RecoverAsync(IConnection connection, IChannel channel, IReadOnlyList<(string Name, Dictionary<string, object?> Arguments)> declarations,
        CancellationToken ct)
    {
        var found = 0;
        foreach (var (queue, arguments) in declarations.OrderBy(d => d.Name == target.QueueName ? 0 : d.Name == target.WaitQueue ? 2 : 1))
        {
            if (!await ExistsAsync(connection, queue + TemporarySuffix, ct)) continue;
            found++;
            await log.WriteLineAsync($"migrate-queues: {queue}{TemporarySuffix} is left by an interrupted run: its messages go back to {queue}");
            if (!await ExistsAsync(connection, queue, ct)) await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: ct);
            var back = await MoveBackAsync(connection, channel, queue, ct);
            await log.WriteLineAsync($"migrate-queues: {queue}: {back} message(s) moved back from {queue}{TemporarySuffix}");
        }

        return found;
    }

    /// <summary>The queues that exist as the other type; throws if one matches neither type's declaration.</summary>
    private async Task<List<string>> QueuesOfTheOtherTypeAsync(IConnection connection, IReadOnlyList<(string Name, Dictionary<string, object?> Arguments)> declarations,
        CancellationToken ct)
    {
        var source = ServiceQueues.Declarations(target.WithOtherQueueType(), sync).ToDictionary(d => d.Name, d => d.Arguments);
        var toMove = new List<string>();
        foreach (var (name, arguments) in declarations)
        {
            if (!await ExistsAsync(connection, name, ct)) continue;
            var (fit, refusal) = await ServiceQueues.FitAsync(connection, name, arguments, source[name], ct);
            if (fit == QueueFit.Configured) await log.WriteLineAsync($"migrate-queues: {name} is already a {target.QueueTypeArgument} queue");
            else if (fit == QueueFit.OtherType) toMove.Add(name);
            else
                throw new InvalidOperationException($"queue {name} exists with other arguments than the service's configuration gives it as a classic or a quorum queue " +
                                                    $"(the broker: {refusal?.ShutdownReason?.ReplyText}); run migrate-queues with the service's own configuration " +
                                                    "(Sync:RetryInterval sets the wait queue's TTL)", refusal);
        }

        return toMove;
    }

    private async Task RecreateAsync(IConnection connection, IChannel channel, string queue, Dictionary<string, object?> arguments, CancellationToken ct)
    {
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: ct);
        var back = await MoveBackAsync(connection, channel, queue, ct);
        await log.WriteLineAsync($"migrate-queues: {queue}: now {target.QueueTypeArgument}, {back} message(s) moved back");
    }

    /// <summary>Moves <c>&lt;queue&gt;_migrating</c>'s messages into the queue (which exists) and deletes it.</summary>
    private async Task<long> MoveBackAsync(IConnection connection, IChannel channel, string queue, CancellationToken ct)
    {
        var temporary = queue + TemporarySuffix;
        if (queue == target.QueueName)
        {
            foreach (var (exchange, _) in InventoryExchanges.All) await channel.QueueBindAsync(queue, exchange, "", cancellationToken: ct);
            // Both are bound now; once the temporary one is unbound, what it holds is all it will ever hold. Events
            // published from here on reach the service's queue before the backlog moved back behind them: harmless, as
            // the newest occurredAt wins.
            foreach (var (exchange, _) in InventoryExchanges.All) await channel.QueueUnbindAsync(temporary, exchange, "", cancellationToken: ct);
        }
        else if (queue == target.WaitQueue && !await ExistsAsync(connection, target.QueueName, ct))
        {
            // The wait queue dead-letters into the service's queue: not into nothing.
            await channel.QueueDeclareAsync(target.QueueName, durable: true, exclusive: false, autoDelete: false, MessageRerouter.ErrorQueueArguments(target), cancellationToken: ct);
            foreach (var (exchange, _) in InventoryExchanges.All) await channel.QueueBindAsync(target.QueueName, exchange, "", cancellationToken: ct);
        }

        return await MoveUntilDeletedAsync(connection, temporary, queue, ct);
    }
}
