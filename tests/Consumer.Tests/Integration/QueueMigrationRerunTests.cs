using System.Text;
using FlashdutySync.Messaging;
using FlashdutySync.Sync;
using FlashdutySync.Tests.Support;
using Inventory.Contracts;
using RabbitMQ.Client;

namespace FlashdutySync.Tests.Integration;

/// <summary>
/// migrate-queues run again after a crash at each step of moving the service's queue, twice in a row, and in both
/// directions: every message ends in its queue of the target type, no <c>_migrating</c> queue is left, and the
/// service's queue alone receives new events.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class QueueMigrationRerunTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 4, 9, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<string, object?> Quorum = new() { ["x-queue-type"] = "quorum" };
    private static readonly Dictionary<string, object?> QuorumServiceQueue = new(Quorum) { ["x-single-active-consumer"] = true };

    [Fact]
    public async Task Rerun_AfterACrashWhileTheServiceQueueMovedBack_EndsWithEveryEventInTheQuorumQueue()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        // Given the state a crash leaves mid move-back: the queue recreated as quorum and bound, 2 events back in it,
        // 5 still in its temporary queue, which is still bound too.
        await using (var channel = await ConfirmingChannelAsync())
        {
            await channel.QueueDeleteAsync(h.Queue);
            await DeclareBoundAsync(channel, h.Queue, QuorumServiceQueue);
            await DeclareBoundAsync(channel, h.Queue + "_migrating", Quorum);
            await PublishToQueueAsync(channel, h.Queue + "_migrating", 5);
            await PublishToQueueAsync(channel, h.Queue, 2);
        }

        await RerunAndAssertDoneAsync(h, expected: 7);
    }

    [Fact]
    public async Task Rerun_AfterACrashBeforeTheServiceQueueWasRecreated_RecreatesItBoundAndUnbindsTheTemporaryQueue()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        // Given: the service's queue deleted once empty, its events (4, published through the exchanges) aside.
        await using (var channel = await ConfirmingChannelAsync())
        {
            await DeclareBoundAsync(channel, h.Queue + "_migrating", Quorum);
            await channel.QueueDeleteAsync(h.Queue);
        }

        for (var i = 0; i < 4; i++) await h.ProvisionAsync($"h{i}", "o", "sre", "api", T0.AddSeconds(i));
        Assert.Equal(4u, await broker.CountAsync(h.Queue + "_migrating"));
        await RerunAndAssertDoneAsync(h, expected: 4);
    }

    [Fact]
    public async Task Rerun_AfterACrashWhileTheServiceQueueMovedAside_EndsWithEveryEventInTheQuorumQueue()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        // Given: 3 events still in the classic queue, 2 already aside in the bound temporary queue.
        for (var i = 0; i < 3; i++) await h.ProvisionAsync($"h{i}", "o", "sre", "api", T0.AddSeconds(i));
        await using (var channel = await ConfirmingChannelAsync())
        {
            await DeclareBoundAsync(channel, h.Queue + "_migrating", Quorum);
            await PublishToQueueAsync(channel, h.Queue + "_migrating", 2);
        }

        await RerunAndAssertDoneAsync(h, expected: 5);
    }

    [Fact]
    public async Task SecondRun_RightAfterASuccessfulOne_ChangesNothingAndSaysSo()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        for (var i = 0; i < 10; i++) await h.ProvisionAsync($"h{i}", "o", "sre", "api", T0.AddSeconds(i));
        var (first, firstOutput) = await MigrateAsync(h, "quorum");
        Assert.True(first == 0, firstOutput);

        var (second, output) = await MigrateAsync(h, "quorum");
        Assert.True(second == 0, output);
        Assert.Contains("nothing to do: every queue of the service is already quorum", output, StringComparison.Ordinal);
        Assert.DoesNotContain("moved", output, StringComparison.Ordinal);
        Assert.Equal(10u, await broker.CountAsync(h.Queue));
        Assert.True(await DeclaresAsync(h.Queue, QuorumServiceQueue), output);
    }

    [Fact]
    public async Task Migrate_1200Messages_KeepsTheirOrderAndReportsProgress()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        await using (var channel = await ConfirmingChannelAsync()) await PublishToQueueAsync(channel, h.Queue, 1200);
        using var output = new StringWriter();
        var options = new RabbitMqOptions { Uri = broker.Uri, QueueName = h.Queue, QueueType = QueueType.Quorum };
        var code = await new QueueMigration(options, new SyncOptions(), output) { ProgressEvery = 500 }.RunAsync(CancellationToken.None);

        Assert.True(code == 0, output.ToString());
        Assert.Contains($"migrate-queues: {h.Queue}: 512 message(s) moved so far", output.ToString(), StringComparison.Ordinal);
        Assert.Contains($"migrate-queues: {h.Queue}: 1200 message(s) moved aside", output.ToString(), StringComparison.Ordinal);
        await using var reader = await broker.Connection.CreateChannelAsync();
        var bodies = new List<string>();
        while (await QueueReader.TakeAsync(reader, h.Queue, 1000, TimeSpan.FromSeconds(5), CancellationToken.None) is { Count: > 0 } batch)
        {
            bodies.AddRange(batch.Select(m => Encoding.UTF8.GetString(m.Body)));
            await reader.BasicAckAsync(batch[^1].DeliveryTag, multiple: true);
        }

        Assert.Equal(Enumerable.Range(0, 1200).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), bodies);
    }

    [Fact]
    public async Task Migrate_AQueueMatchingNeitherTypesArguments_RefusesAndChangesNothing()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        // A wait queue of another TTL than the configuration's (Sync:RetryInterval, 10 s by default).
        await using (var channel = await broker.Connection.CreateChannelAsync())
        {
            await channel.QueueDeclareAsync(h.WaitQueue, durable: true, exclusive: false, autoDelete: false, new Dictionary<string, object?>
            {
                ["x-queue-type"] = "classic", ["x-dead-letter-exchange"] = "", ["x-dead-letter-routing-key"] = h.Queue, ["x-message-ttl"] = 5000L,
            });
        }

        await h.ProvisionAsync("h", "o", "sre", "api", T0);
        var (code, output) = await MigrateAsync(h, "quorum");
        Assert.Equal(1, code);
        Assert.Contains($"queue {h.WaitQueue} exists with other arguments", output, StringComparison.Ordinal);
        Assert.Equal(1u, await broker.CountAsync(h.Queue));
        Assert.False(await DeclaresAsync(h.Queue, QuorumServiceQueue), "the service's queue was moved although the run refused");
    }

    [Fact]
    public async Task Migrate_QuorumBackToClassic_KeepsEveryMessage_AndTheStartCheckNamesEveryQueueOfTheOtherType()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var sync = new SyncOptions();
        var quorum = new RabbitMqOptions { Uri = broker.Uri, QueueName = h.Queue, QueueType = QueueType.Quorum };
        for (var i = 0; i < 10; i++) await h.ProvisionAsync($"h{i}", "o", "sre", "api", T0.AddSeconds(i));
        var (toQuorum, quorumOutput) = await MigrateAsync(h, "quorum");
        Assert.True(toQuorum == 0, quorumOutput);
        // Every typed queue as the quorum service declares it (the wait queue with x-dead-letter-strategy and x-overflow).
        await ServiceQueues.VerifyAsync(quorum, sync, CancellationToken.None);

        var (toClassic, output) = await MigrateAsync(h, "classic");
        Assert.True(toClassic == 0, output);
        Assert.Equal(10u, await broker.CountAsync(h.Queue));
        var classic = new RabbitMqOptions { Uri = broker.Uri, QueueName = h.Queue, QueueType = QueueType.Classic };
        await ServiceQueues.VerifyAsync(classic, sync, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<QueueTypeMismatchException>(() => ServiceQueues.VerifyAsync(quorum, sync, CancellationToken.None));
        Assert.Equal(quorum.TypedQueues.Order(), refused.Queues.Order());
    }

    /// <summary>Runs migrate-queues --to quorum and checks the end state: every event in the quorum queue, nothing aside, new events reach it alone.</summary>
    private async Task RerunAndAssertDoneAsync(SyncHarness h, uint expected)
    {
        try
        {
            var (code, output) = await MigrateAsync(h, "quorum");
            Assert.True(code == 0, output);
            Assert.Contains($"{h.Queue}_migrating is left by an interrupted run", output, StringComparison.Ordinal);
            Assert.False(await broker.ExistsAsync(h.Queue + "_migrating"), $"{h.Queue}_migrating left after a rerun that reported success. Output:\n{output}");
            Assert.True(await DeclaresAsync(h.Queue, QuorumServiceQueue), $"{h.Queue} is not a quorum queue. Output:\n{output}");
            Assert.Equal(expected, await broker.CountAsync(h.Queue));

            // The service's queue is bound to the exchanges; nothing else receives their events.
            await h.ProvisionAsync("later", "o", "sre", "api", T0.AddHours(1));
            await Eventually.UntilAsync(async () => await broker.CountAsync(h.Queue) == expected + 1, TimeSpan.FromSeconds(10), "the later event to reach the service's queue");
            Assert.False(await broker.ExistsAsync(h.Queue + "_migrating"));
        }
        finally
        {
            await using var cleanup = await broker.Connection.CreateChannelAsync();
            await cleanup.QueueDeleteAsync(h.Queue + "_migrating");
        }
    }

    private async Task<(int Code, string Output)> MigrateAsync(SyncHarness h, string to)
    {
        using var output = new StringWriter();
        var code = await MigrateQueuesCommand.RunAsync(["--to", to, $"--RabbitMq:Uri={broker.Uri}", $"--RabbitMq:QueueName={h.Queue}"], output);
        return (code, output.ToString());
    }

    private async Task<IChannel> ConfirmingChannelAsync() =>
        await broker.Connection.CreateChannelAsync(new CreateChannelOptions(true, true, outstandingPublisherConfirmationsRateLimiter: null));

    private static async Task DeclareBoundAsync(IChannel channel, string queue, Dictionary<string, object?> arguments)
    {
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments);
        foreach (var (exchange, _) in InventoryExchanges.All) await channel.QueueBindAsync(queue, exchange, "");
    }

    /// <summary>Messages numbered from 0, confirmed, in order (through the default exchange, as the migration moves them).</summary>
    private static async Task PublishToQueueAsync(IChannel channel, string queue, int count)
    {
        for (var start = 0; start < count; start += 200)
        {
            var batch = Enumerable.Range(start, Math.Min(200, count - start)).Select(i => channel.BasicPublishAsync("", queue, mandatory: true,
                new BasicProperties { Persistent = true }, Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture))).AsTask()).ToList();
            await Task.WhenAll(batch);
        }
    }

    private async Task<bool> DeclaresAsync(string queue, Dictionary<string, object?> arguments)
    {
        await using var channel = await broker.Connection.CreateChannelAsync();
        try
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments);
            return true;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return false;
        }
    }
}
