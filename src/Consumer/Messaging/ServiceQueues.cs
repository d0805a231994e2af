using System.Runtime.ExceptionServices;
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
    /// <summary>
    /// The typed queues and their declaration arguments (the service's queue takes the error queue's: MassTransit
    /// copies them), every one of <see cref="RabbitMqOptions.TypedQueues"/>: the journal's channel declares
    /// <c>_journal_unreadable</c> at each open, so one of the other type fails that channel for ever.
    /// </summary>
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
            (o.JournalUnreadableQueue, o.QueueArguments()),
        ];
    }

    /// <summary>
    /// Declares every typed queue (creating the missing ones); throws, saying how to migrate, if one exists with the
    /// other type. Returns the broker's version (as it says it in the connection's server properties), or null.
    /// </summary>
    public static async Task<string?> VerifyAsync(RabbitMqOptions o, SyncOptions sync, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(o);
        await using var connection = await BrokerNodes.ConnectAsync(o, new ConnectionFactory { ClientProvidedName = "flashduty-mapping-sync queue check" }, ct);
        var other = Declarations(o.WithOtherQueueType(), sync).ToDictionary(d => d.Name, d => d.Arguments);
        var mismatched = new List<string>();
        foreach (var (name, arguments) in Declarations(o, sync))
        {
            var (fit, refusal) = await FitAsync(connection, name, arguments, other[name], ct);
            if (fit == QueueFit.OtherType) mismatched.Add(name);
            // Neither type's arguments: not something a migration fixes (a changed Sync:RetryInterval, say); the broker's own words.
            else if (fit == QueueFit.Neither) ExceptionDispatchInfo.Throw(refusal!);
        }

        if (mismatched.Count > 0) throw new QueueTypeMismatchException(o, mismatched);
        return connection.ServerProperties?.TryGetValue("version", out var version) == true
            ? version switch { byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes), string text => text, _ => null }
            : null;
    }

    /// <summary>
    /// RabbitMQ 4.0 gave quorum queues a delivery limit of 20 by default: a message returned 20 times is dropped (or
    /// dead-lettered), and the service returns events to its queue on a lost term and while Flashduty is paused.
    /// </summary>
    public static bool QuorumDeliveryLimitApplies(string? brokerVersion, QueueType type) =>
        type == QueueType.Quorum && brokerVersion is { } v && int.TryParse(v.Split('.')[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var major) && major >= 4;

    /// <summary>
    /// Declares the queue as configured (creating it if missing) and, if the broker refuses, as the other type with the
    /// arguments the configuration gives that type: RabbitMQ names the first argument that differs in an order of its
    /// own (3.10 reports a classic wait queue's missing x-overflow before its x-queue-type), so its reply cannot tell
    /// a queue's type, but which of the two declarations it accepts can.
    /// </summary>
    internal static async Task<(QueueFit Fit, OperationInterruptedException? Refusal)> FitAsync(IConnection connection, string name,
        Dictionary<string, object?> configured, Dictionary<string, object?> otherType, CancellationToken ct)
    {
        if (await RefusalAsync(connection, name, configured, ct) is not { } refusal) return (QueueFit.Configured, null);
        if (refusal.ShutdownReason?.ReplyText.Contains("x-queue-type", StringComparison.Ordinal) == true) return (QueueFit.OtherType, refusal);
        return await RefusalAsync(connection, name, otherType, ct) is null ? (QueueFit.OtherType, refusal) : (QueueFit.Neither, refusal);
    }

    private static async Task<OperationInterruptedException?> RefusalAsync(IConnection connection, string name, Dictionary<string, object?> arguments, CancellationToken ct)
    {
        // A refused declaration closes its channel: one channel each.
        await using var channel = await connection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            await channel.QueueDeclareAsync(name, durable: true, exclusive: false, autoDelete: false, arguments, cancellationToken: ct);
            return null;
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason is { ReplyCode: 406 })
        {
            return ex;
        }
    }
}

/// <summary>How an existing queue's arguments compare with the configuration's (<see cref="ServiceQueues.FitAsync"/>).</summary>
internal enum QueueFit
{
    /// <summary>As configured (or just created so).</summary>
    Configured,

    /// <summary>Of the other type, otherwise as the configuration would declare it with that type.</summary>
    OtherType,

    /// <summary>Neither: other arguments than either type's declaration gives it.</summary>
    Neither,
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
