using MassTransit;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Messaging;

/// <summary>
/// Batch policy of the three event consumers: a batch closes at the message limit or after the time limit
/// (the latency it adds at light load); several batches run at once so that events keep flowing into the
/// schemas' group commits while a write is in flight.
/// </summary>
public sealed class InventoryConsumerDefinition<TConsumer>(IOptions<RabbitMqOptions> options) : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        var o = options.Value;
        consumerConfigurator.Options<BatchOptions>(b => b
            .SetMessageLimit(o.BatchMessageLimit)
            .SetTimeLimit(o.BatchTimeLimit)
            .SetConcurrencyLimit(o.BatchConcurrency));
    }
}
