using FlashdutySync.Sync;
using Inventory.Contracts;
using MassTransit;

namespace FlashdutySync.Messaging;

// Thin by design: translate the batch and hand it to the processor. Endpoint policy is in InventoryConsumerDefinition.

public sealed class HostProvisionedConsumer(EventBatchProcessor processor) : IConsumer<Batch<HostProvisioned>>
{
    public Task Consume(ConsumeContext<Batch<HostProvisioned>> context) =>
        processor.ProcessAsync(context.Message.ToList(), InventoryExchanges.HostProvisioned, EventTranslator.Translate, context.CancellationToken);
}

public sealed class OwnerChangedConsumer(EventBatchProcessor processor) : IConsumer<Batch<OwnerChanged>>
{
    public Task Consume(ConsumeContext<Batch<OwnerChanged>> context) =>
        processor.ProcessAsync(context.Message.ToList(), InventoryExchanges.OwnerChanged, EventTranslator.Translate, context.CancellationToken);
}

public sealed class HostDecommissionedConsumer(EventBatchProcessor processor) : IConsumer<Batch<HostDecommissioned>>
{
    public Task Consume(ConsumeContext<Batch<HostDecommissioned>> context) =>
        processor.ProcessAsync(context.Message.ToList(), InventoryExchanges.HostDecommissioned, EventTranslator.Translate, context.CancellationToken);
}
