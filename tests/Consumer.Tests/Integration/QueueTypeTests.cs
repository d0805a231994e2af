using FlashdutySync.Messaging;
using FlashdutySync.Tests.Support;

namespace FlashdutySync.Tests.Integration;

/// <summary>Switching RabbitMq:QueueType on existing queues: refused at start with what to run, and the migration that moves them.</summary>
[Collection(BrokerCollection.Name)]
public sealed class QueueTypeTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Start_WithQuorumConfiguredOverClassicQueues_FailsNamingTheQueuesAndTheMigrateCommand()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Settings["RabbitMq:QueueType"] = "quorum";
        var refused = await Assert.ThrowsAsync<QueueTypeMismatchException>(() => h.StartServiceAsync());
        Assert.Contains(h.Queue, refused.Queues);
        Assert.Contains("Consumer migrate-queues --to quorum", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("guest:guest", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MigrateQueues_ClassicToQuorum_KeepsEveryEvent_AndTheQuorumServiceAppliesThem()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var model = new RowModel("host", "owner", "team", "service");
        for (var i = 0; i < 200; i++)
        {
            var at = T0.AddSeconds(i);
            await h.ProvisionAsync($"m{i % 40}", $"o{i}", "sre", "api", at);
            model.Apply(at, ("host", $"m{i % 40}"), ("owner", $"o{i}"), ("team", "sre"), ("service", "api"));
        }

        await h.PublishRawAsync(Inventory.Contracts.InventoryExchanges.HostProvisioned, "{\"owner\":\"x\"}");
        using var output = new StringWriter();
        var code = await MigrateQueuesCommand.RunAsync(["--to", "quorum", $"--RabbitMq:Uri={broker.Uri}", $"--RabbitMq:QueueName={h.Queue}"], output);
        Assert.True(code == 0, output.ToString());
        Assert.Contains($"{h.Queue}: 201 message(s) moved aside", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(201u, await h.CountAsync(h.Queue));

        h.Settings["RabbitMq:QueueType"] = "quorum";
        await h.StartServiceAsync();
        await Eventually.UntilAsync(() => model.Matches(h.Rows(SyncHarness.HostSchema)), TimeSpan.FromSeconds(60), () => model.Diff(h.Rows(SyncHarness.HostSchema)));
        await h.DrainedAsync(TimeSpan.FromSeconds(30));
        Assert.Single(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task MigrateQueues_WhileTheServiceConsumes_RefusesAndChangesNothing()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        await h.StartServiceAsync();
        await Eventually.UntilAsync(async () => (await broker.Connection.CreateChannelAsync()) is var c && (await c.ConsumerCountAsync(h.Queue)) > 0,
            TimeSpan.FromSeconds(30), "the service to consume");
        using var output = new StringWriter();
        var code = await MigrateQueuesCommand.RunAsync(["--to", "quorum", $"--RabbitMq:Uri={broker.Uri}", $"--RabbitMq:QueueName={h.Queue}"], output);
        Assert.Equal(1, code);
        Assert.Contains("stop every replica", output.ToString(), StringComparison.Ordinal);
    }
}
