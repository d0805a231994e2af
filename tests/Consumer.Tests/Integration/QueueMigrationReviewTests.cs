using FlashdutySync.Messaging;
using FlashdutySync.Tests.Support;
using RabbitMQ.Client;

namespace FlashdutySync.Tests.Integration;

/// <summary>
/// migrate-queues on a deployment that has run (review of issue #15): the wait queue's arguments and _journal_unreadable once
/// stopped the migration or left the journal unopenable; the start check showed the broker's raw refusal; a rerun after
/// an interrupted move left events in a _migrating queue.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class QueueMigrationReviewTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 3, 9, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<string, object?> Quorum = new() { ["x-queue-type"] = "quorum" };

    /// <summary>
    /// The documented path on a deployment that has run: the classic service has declared its wait queue (at every
    /// start) and <c>&lt;queue&gt;_journal_unreadable</c> (on every open of the journal's channel). Two defects:
    /// (1) migrate-queues tells a queue's type by declaring it with the target's arguments; for the wait queue these
    /// add x-overflow and x-dead-letter-strategy, and RabbitMQ 3.10 reports the first inequivalent argument,
    /// x-overflow, not x-queue-type: the migration stops with "exists with other arguments … run migrate-queues with
    /// the service's own configuration" (exit 1), which it was. (2) It does not move _journal_unreadable at all
    /// (ServiceQueues.Declarations omits it), nor does the start check look at it, so the quorum service's journal
    /// channel fails its declaration (406, x-queue-type) on every open: the journal never loads, no event applies.
    /// </summary>
    [Fact]
    public async Task MigrateQueues_AfterTheServiceRanOnClassic_TheQuorumServiceStillAppliesEvents()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var classic = await h.StartServiceAsync();
        await Eventually.UntilAsync(async () => await broker.ExistsAsync(h.Queue + "_journal_unreadable"), TimeSpan.FromSeconds(30),
            "the classic service to open its journal");
        await Eventually.UntilAsync(async () => await ConsumersAsync(h.Queue) > 0, TimeSpan.FromSeconds(30), "the classic service to consume");
        // It has run: its term started and wrote (a stop while the term starts is MappingEngineTests' case).
        var model = new RowModel("host", "owner", "team", "service");
        await h.ProvisionAsync("ran", "o", "sre", "api", T0.AddSeconds(-1));
        model.Apply(T0.AddSeconds(-1), ("host", "ran"), ("owner", "o"), ("team", "sre"), ("service", "api"));
        await Eventually.UntilAsync(() => model.Matches(h.Rows(SyncHarness.HostSchema)), TimeSpan.FromSeconds(30), () => model.Diff(h.Rows(SyncHarness.HostSchema)));
        await h.StopServiceAsync(classic);
        await Eventually.UntilAsync(async () => await ConsumersAsync(h.Queue) == 0, TimeSpan.FromSeconds(30), "the stopped service's consumer to go");

        for (var i = 0; i < 20; i++)
        {
            var at = T0.AddSeconds(i);
            await h.ProvisionAsync($"u{i}", $"o{i}", "sre", "api", at);
            model.Apply(at, ("host", $"u{i}"), ("owner", $"o{i}"), ("team", "sre"), ("service", "api"));
        }

        using var output = new StringWriter();
        // With the service's own configuration (its wait queue's TTL, Sync:RetryInterval, included).
        var code = await MigrateQueuesCommand.RunAsync(["--to", "quorum", .. h.ServiceSettings().Where(kv => kv.Value is not null).Select(kv => $"--{kv.Key}={kv.Value}")], output);
        Assert.True(code == 0, output.ToString());

        // Every queue the quorum service declares must now accept its quorum declaration.
        Assert.True(await DeclaresAsync(h.Queue + "_journal_unreadable", Quorum),
            $"{h.Queue}_journal_unreadable is still classic after migrate-queues --to quorum: the quorum service's journal channel cannot open. Output:\n{output}");

        h.Settings["RabbitMq:QueueType"] = "quorum";
        await h.StartServiceAsync();
        await Eventually.UntilAsync(() => model.Matches(h.Rows(SyncHarness.HostSchema)), TimeSpan.FromSeconds(30), () => model.Diff(h.Rows(SyncHarness.HostSchema)));
    }

    /// <summary>
    /// The start check on a deployment that has run on classic queues: the wait queue's quorum declaration fails on
    /// x-overflow (first inequivalent argument), which VerifyAsync does not recognise as a type mismatch, so the start
    /// fails with the broker's raw PRECONDITION_FAILED about x-overflow instead of the message naming migrate-queues.
    /// </summary>
    [Fact]
    public async Task Start_WithQuorumConfiguredAfterTheServiceRanOnClassic_FailsNamingTheMigrateCommand()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var classic = await h.StartServiceAsync();
        await Eventually.UntilAsync(async () => await ConsumersAsync(h.Queue) > 0, TimeSpan.FromSeconds(30), "the classic service to consume");
        await h.StopServiceAsync(classic);

        h.Settings["RabbitMq:QueueType"] = "quorum";
        var refused = await Record.ExceptionAsync(() => h.StartServiceAsync());
        var mismatch = Assert.IsType<QueueTypeMismatchException>(refused);
        Assert.Contains(h.WaitQueue, mismatch.Queues);
    }

    /// <summary>
    /// migrate-queues interrupted after it moved the wait queue aside (it holds <c>_wait</c>'s messages in
    /// <c>_wait_migrating</c>, without TTL, while every other queue moves): a rerun finds no <c>_wait</c> queue, skips
    /// it, says "done", and the parked events stay in <c>_wait_migrating</c> for ever (acknowledged from the service's
    /// queue when they were parked: lost). The same holds for any queue interrupted during its move back.
    /// </summary>
    [Fact]
    public async Task MigrateQueues_RerunAfterAnInterruptionWhileTheWaitQueueWasHeldAside_MovesTheParkedEventsBack()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var aside = h.WaitQueue + "_migrating";
        // The state a first run leaves when stopped while moving the other queues: _wait deleted, its messages aside.
        await using (var channel = await broker.Connection.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            await channel.QueueDeclareAsync(aside, durable: true, exclusive: false, autoDelete: false, Quorum);
            for (var i = 0; i < 3; i++)
                await channel.BasicPublishAsync("", aside, mandatory: true, new BasicProperties { Persistent = true }, "{\"host\":\"p\",\"owner\":\"o\"}"u8.ToArray());
        }

        try
        {
            using var output = new StringWriter();
            var code = await MigrateQueuesCommand.RunAsync(["--to", "quorum", $"--RabbitMq:Uri={broker.Uri}", $"--RabbitMq:QueueName={h.Queue}"], output);
            Assert.True(code == 0, output.ToString());
            var stranded = await broker.ExistsAsync(aside) ? await broker.CountAsync(aside) : 0u;
            Assert.True(stranded == 0, $"{stranded} parked event(s) left in {aside} after a rerun that reported success. Output:\n{output}");
            Assert.Equal(3u, await h.SafeCountAsync(h.WaitQueue) + await h.SafeCountAsync(h.Queue));
        }
        finally
        {
            await using var cleanup = await broker.Connection.CreateChannelAsync();
            await cleanup.QueueDeleteAsync(aside);
        }
    }

    private async Task<uint> ConsumersAsync(string queue)
    {
        await using var channel = await broker.Connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync(queue)).ConsumerCount;
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
