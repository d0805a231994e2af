using System.Threading.Channels;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace FlashdutySync.Messaging;

/// <summary>One message read off a queue and not yet acknowledged (its body copied: the client reuses the buffer).</summary>
public sealed record QueuedMessage(ulong DeliveryTag, string Exchange, IReadOnlyBasicProperties Properties, byte[] Body);

/// <summary>
/// Reads the messages a queue holds through a consumer, not <c>basic.get</c>: a quorum queue with single-active-consumer
/// (the error queue, whose arguments MassTransit copies from the service's queue) refuses <c>basic.get</c> with 405.
/// </summary>
public static class QueueReader
{
    /// <summary>
    /// Up to <paramref name="max"/> of the messages present when called, unacknowledged on <paramref name="channel"/>
    /// for the caller to acknowledge; fewer if no delivery comes for <paramref name="idle"/> (another consumer is active).
    /// </summary>
    public static async Task<IReadOnlyList<QueuedMessage>> TakeAsync(IChannel channel, string queue, int max, TimeSpan idle, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(channel);
        var present = (int)Math.Min(max, (await channel.QueueDeclarePassiveAsync(queue, ct)).MessageCount);
        var taken = new List<QueuedMessage>();
        if (present == 0) return taken;
        await channel.BasicQosAsync(0, (ushort)Math.Min(present, 1000), global: false, ct);
        var deliveries = Channel.CreateUnbounded<QueuedMessage>();
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, d) =>
        {
            deliveries.Writer.TryWrite(new QueuedMessage(d.DeliveryTag, d.Exchange, new BasicProperties(d.BasicProperties), d.Body.ToArray()));
            return Task.CompletedTask;
        };
        var tag = await channel.BasicConsumeAsync(queue, autoAck: false, consumer, ct);
        try
        {
            while (taken.Count < present)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
                wait.CancelAfter(idle);
                try
                {
                    taken.Add(await deliveries.Reader.ReadAsync(wait.Token));
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    break;
                }

                // Past the prefetch window, the broker waits for acknowledgements: the caller's, after this returns.
                if (taken.Count % 1000 == 0) break;
            }
        }
        finally
        {
            await channel.BasicCancelAsync(tag, cancellationToken: CancellationToken.None);
        }

        // Deliveries that arrived between the last read and the cancel are given back.
        while (deliveries.Reader.TryRead(out var extra)) await channel.BasicNackAsync(extra.DeliveryTag, multiple: false, requeue: true, CancellationToken.None);
        return taken;
    }
}
