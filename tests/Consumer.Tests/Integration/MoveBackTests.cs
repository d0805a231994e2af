using Flashduty.Simulator;
using FlashdutySync.Tests.Support;
using InventoryPublisher;

namespace FlashdutySync.Tests.Integration;

[Collection(BrokerCollection.Name)]
public sealed class MoveBackTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task SetAsideEvent_MovedBackAfterTheCauseIsFixed_IsApplied_WithItsHeadersKept()
    {
        await using var h = await SyncHarness.CreateAsync(broker, o => o.Faults = new FaultOptions { RejectValue = "blocked" });
        await h.StartServiceAsync();
        await h.PublishRawAsync(Inventory.Contracts.InventoryExchanges.HostProvisioned,
            new { host = "web-7", owner = "blocked", team = "sre", service = "api", occurredAt = T0 },
            new Dictionary<string, object?> { ["x-origin"] = "cmdb" });
        await Eventually.UntilAsync(async () => await h.CountAsync(h.ErrorQueue) == 1, TimeSpan.FromSeconds(60), "the refused event set aside");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));

        h.Simulator.State.Faults = new FaultOptions();
        var result = await ErrorQueueMover.MoveAsync(broker.Uri, h.Queue, limit: null, eventExchange: null, CancellationToken.None);

        Assert.Equal(1, result.Moved);
        Assert.Equal(0, result.Left);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).GetValueOrDefault("web-7")?["owner"] == "blocked", TimeSpan.FromSeconds(20), "the row");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0u, await h.CountAsync(h.ErrorQueue));
    }

    [Fact]
    public async Task MoveBack_KeepsHeaders_AndLeavesPlainMessagesOfUnknownEventInPlace()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        // Two messages as the error queue may hold them: one the service set aside (it names its event), one it never read.
        await using var channel = await broker.Connection.CreateChannelAsync(new RabbitMQ.Client.CreateChannelOptions(true, true));
        await channel.QueueDeclareAsync(h.ErrorQueue, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-single-active-consumer"] = true });
        await channel.BasicPublishAsync("", h.ErrorQueue, false, new RabbitMQ.Client.BasicProperties
        {
            ContentType = "application/json", Headers = new Dictionary<string, object?> { ["x-inventory-event"] = "inventory.owner-changed", ["x-origin"] = "cmdb" },
        }, "{\"host\":\"a\",\"owner\":\"b\",\"occurredAt\":\"2026-11-01T12:00:00Z\"}"u8.ToArray());
        await channel.BasicPublishAsync("", h.ErrorQueue, false, new RabbitMQ.Client.BasicProperties { ContentType = "application/json" }, "{\"host\":\"c\"}"u8.ToArray());

        var result = await ErrorQueueMover.MoveAsync(broker.Uri, h.Queue, limit: null, eventExchange: null, CancellationToken.None);

        Assert.Equal(1, result.Moved);
        Assert.Equal(1, result.Left);
        Assert.Contains("pass --event", Assert.Single(result.Problems));
        var moved = await channel.BasicGetAsync(h.Queue, autoAck: true);
        Assert.NotNull(moved);
        Assert.Equal("cmdb", System.Text.Encoding.UTF8.GetString((byte[])moved!.BasicProperties.Headers!["x-origin"]!));
    }
}
