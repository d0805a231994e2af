using FlashdutySync.Sync;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace FlashdutySync.Messaging;

/// <summary>
/// Every queue the service declares with <see cref="RabbitMqOptions.QueueType"/>, with its arguments in one place, and
/// the check at start that each existing queue is of that type: RabbitMQ cannot change a queue's type, and a
/// mismatch would otherwise show only as MassTransit retrying a refused declaration forever.
/// </summary>
public static class ServiceQueues
{
    /// <summary>The typed queues and their declaration arguments (the service's queue takes the error queue's: MassTransit copies them).</summary>
    public static IReadOnlyList<(string Name, Dictionary<string, object?> Arguments)> Declarations(RabbitMqOptions o, SyncOptions sync)
    {
        ArgumentNullException.ThrowIfNull(o);
        return
        [
            (o.QueueName, MessageRerouter.ErrorQueueArguments(o)),
            (o.ErrorQueue, MessageRerouter.ErrorQueueArguments(o)),
            (o.WaitQueue, MessageRerouter.WaitQueueArguments(o, sync)),
            (o.BudgetQueue, o.QueueArguments(BudgetLedger.BudgetArguments)),
            (o.JournalQueue, o.QueueArguments()),
        ];
    }

    /// <summary>Declares every typed queue (creating the missing ones); throws, saying how to migrate, if one exists with the other type.</summary>
    public static async Task VerifyAsync(RabbitMqOptions o, SyncOptions sync, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(o);
        await using var connection = await BrokerNodes.ConnectAsync(o, new ConnectionFactory { ClientProvidedName = "flashduty-mapping-sync queue check" }, ct);
        var mismatched = new List<string>();
        foreach (var (name, arguments) in Declarations(o, sync))
        {
            // A refused declaration closes its channel: one channel each.
            await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
            try
            {
                await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: ct);
            }
            catch (OperationInterruptedException ex) when (ex.ShutdownReason is { ReplyCode: 406 } reason && reason.ReplyText.Contains("x-queue-type", StringComparison.Ordinal))
            {
                mismatched.Add(name);
            }
        }

        if (mismatched.Count > 0) throw new QueueTypeMismatchException(o, mismatched);
    }
}

/// <summary>Queues of the other type than <see cref="RabbitMqOptions.QueueType"/>: what to run to move them.</summary>
public sealed class QueueTypeMismatchException(RabbitMqOptions o, IReadOnlyList<string> queues) : Exception(
    $"RabbitMq:QueueType is {o.QueueTypeArgument}, but these queues exist as {(o.QueueType == QueueType.Quorum ? "classic" : "quorum")} queues: " +
    $"{string.Join(", ", queues)}. A queue's type cannot be changed in place. Either set RabbitMq__QueueType={(o.QueueType == QueueType.Quorum ? "classic" : "quorum")}, " +
    $"or stop every replica and move the queues, messages included, to the new type with the service's own configuration: " +
    $"`Consumer {MigrateQueuesCommand.Verb} --to {o.QueueTypeArgument}` (README, 'Running against a RabbitMQ cluster').")
{
    public IReadOnlyList<string> Queues { get; } = queues;
}
