using Flashduty.Simulator;
using FlashdutySync.Tests.Support;
using Inventory.Contracts;

namespace FlashdutySync.Tests.Integration;

/// <summary>Acknowledging on durable intent: what the row journal changes for events while Flashduty or a queue is away.</summary>
[Collection(BrokerCollection.Name)]
public sealed class JournalTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FlashdutyDown_EventsAreAcknowledgedOnceJournaled_NothingIsRedelivered_AndTheRowsAreWrittenWhenItIsBack()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var app = await h.StartServiceAsync();
        // Active and writing (its term began with Flashduty up) before Flashduty goes down.
        await h.ProvisionAsync("h-first", "o", "t", "s", T0);
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).ContainsKey("h-first"), Deadline, "the first row");
        h.Simulator.State.Faults = new FaultOptions { ServerErrorRate = 1.0, Seed = 3 };
        var hosts = new RowModel("host", "owner", "team", "service");
        hosts.Apply(T0, [("host", "h-first"), ("owner", "o"), ("team", "t"), ("service", "s")]);
        var accepted0 = h.Simulator.State.Stats.Requests("data/upsert", 200, schemaId: SyncHarness.HostSchema);
        var random = new Random(5);
        for (var i = 0; i < 3000; i++)
        {
            var host = $"h{random.Next(300):000}";
            var at = T0.AddSeconds(random.Next(100_000));
            (string, string?)[] labels = [("host", host), ("owner", $"o{random.Next(30)}"), ("team", $"t{random.Next(4)}"), ("service", $"s{random.Next(10)}")];
            await h.ProvisionAsync(host, labels[1].Item2, labels[2].Item2, labels[3].Item2, at);
            hosts.Apply(at, labels);
        }

        // Every call fails, yet the queue drains: nothing unacknowledged, nothing parked or given back in cycles.
        await h.DrainedAsync(Deadline);
        Assert.Equal(["h-first"], h.Rows(SyncHarness.HostSchema).Keys); // nothing of the 3,000 reached Flashduty
        var failing = h.Simulator.State.Stats.Requests("data/upsert");
        Assert.True(failing > 0, "the writer kept trying");

        h.Simulator.State.Faults = new FaultOptions();
        await Eventually.UntilAsync(() => hosts.Matches(h.Rows(SyncHarness.HostSchema)), Deadline, () => "rows to match the model: " + hosts.Diff(h.Rows(SyncHarness.HostSchema)));
        // 300 rows coalesced from 3,000 events: one request of 300 docs once Flashduty answers (two if a retry overlapped).
        var accepted = h.Simulator.State.Stats.Requests("data/upsert", 200, schemaId: SyncHarness.HostSchema) - accepted0;
        Assert.InRange(accepted, 1, 2);
        await h.StopServiceAsync(app);
        Assert.Equal(0u, await h.CountAsync(h.Queue));
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task AFailedReroutePublish_CostsNoEventOfItsBatch_TheQueueIsDeclaredAgain_AndTheEventIsParked()
    {
        // #13 defect 5: one failed reroute publish faulted the whole batch, and all 50 events went to the error queue.
        await using var h = await SyncHarness.CreateAsync(broker);
        h.Settings["RabbitMq:BatchTimeLimit"] = "00:00:00.500"; // one batch for what follows
        await h.StartServiceAsync();
        await using (var channel = await broker.Connection.CreateChannelAsync()) await channel.QueueDeleteAsync(h.WaitQueue, ifUnused: false, ifEmpty: false);

        for (var i = 0; i < 20; i++) await h.ProvisionAsync($"web-{i}", "alice", "sre", "api", T0);
        await h.OwnerChangedAsync("db-1", "bob", T0); // incomplete: parked in the wait queue, which is gone
        for (var i = 20; i < 40; i++) await h.ProvisionAsync($"web-{i}", "alice", "sre", "api", T0);

        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).Count == 40, Deadline, "the 40 rows");
        await Eventually.UntilAsync(async () => await h.SafeCountAsync(h.WaitQueue) == 1, Deadline, "the incomplete event parked in the wait queue declared again");
        Assert.Empty(await h.DrainErrorQueueAsync());
    }
}
