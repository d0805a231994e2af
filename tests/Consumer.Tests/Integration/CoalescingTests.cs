using Flashduty.Simulator;
using FlashdutySync.Tests.Support;

namespace FlashdutySync.Tests.Integration;

[Collection(BrokerCollection.Name)]
public sealed class CoalescingTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Publishes a burst: each host provisioned, then owner changes in a shuffled order (with ties broken by time).</summary>
    private static async Task<(RowModel Hosts, RowModel Services)> PublishBurstAsync(SyncHarness h, int hosts, int events, int seed)
    {
        var random = new Random(seed);
        var hostModel = new RowModel("host", "owner", "team", "service");
        var serviceModel = new RowModel("service", "owner", "team");
        for (var i = 0; i < hosts; i++)
        {
            var at = T0.AddMilliseconds(i);
            var labels = new[] { ("host", $"h{i:0000}"), ("owner", "initial"), ("team", $"team-{i % 7}"), ("service", $"svc-{i % 10}") };
            await h.ProvisionAsync($"h{i:0000}", "initial", $"team-{i % 7}", $"svc-{i % 10}", at);
            hostModel.Apply(at, labels!);
            serviceModel.Apply(at, labels!);
        }

        for (var n = hosts; n < events; n++)
        {
            var host = $"h{random.Next(hosts):0000}";
            // Occurred-at is shuffled too: arrival order is not time order.
            var at = T0.AddSeconds(10 + random.Next(100_000) / 1000.0);
            var owner = $"owner-{random.Next(50)}";
            await h.OwnerChangedAsync(host, owner, at);
            hostModel.Apply(at, ("host", host), ("owner", owner));
        }

        return (hostModel, serviceModel);
    }

    [Fact]
    public async Task Burst_PublishedBeforeStart_CoalescesToFewUpserts_WithNo429AndOneWriteAtATime()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        var (hosts, services) = await PublishBurstAsync(h, hosts: 2000, events: 20_000, seed: 7);
        Assert.Equal(20_000u, await h.CountAsync(h.Queue));

        // A window that holds the whole burst: its 2,000 keys coalesce into the fewest docs (the default window of
        // 5,000 events writes once per window; the benchmark's sweep measures that trade).
        h.Settings["RabbitMq:BatchConcurrency"] = "400";
        await h.StartServiceAsync();
        await Eventually.UntilAsync(() => hosts.Matches(h.Rows(SyncHarness.HostSchema)), TimeSpan.FromSeconds(90),
            () => "host rows to match the model: " + hosts.Diff(h.Rows(SyncHarness.HostSchema)));
        await Eventually.UntilAsync(() => services.Matches(h.Rows(SyncHarness.ServiceSchema)), TimeSpan.FromSeconds(10), "service rows");
        await h.DrainedAsync(TimeSpan.FromSeconds(30));
        await h.AssertNothingLeftAsync();

        var stats = h.Simulator.State.Stats;
        Assert.Equal(0, stats.Total429);
        Assert.Equal(1, h.Simulator.State.GetSchema(SyncHarness.HostSchema)!.MaxConcurrentWrites);
        Assert.Equal(1, h.Simulator.State.GetSchema(SyncHarness.ServiceSchema)!.MaxConcurrentWrites);
        var hostUpserts = stats.Requests("data/upsert", schemaId: SyncHarness.HostSchema);
        var serviceUpserts = stats.Requests("data/upsert", schemaId: SyncHarness.ServiceSchema);
        // The 2,000 provisions change distinct rows, so their full requests may go at once (WritePolicy: not
        // revisiting); the owner changes that follow revisit them and wait for the burst to be in hand: each key is
        // written at most twice, plus one spare request for a pause in the drain that looks like its end.
        Assert.True(hostUpserts <= 2 * (2000 / 1000) + 1, $"{hostUpserts} upserts to the host schema for 2,000 keys (lower bound 2)");
        Assert.True(serviceUpserts <= 1 + 1, $"{serviceUpserts} upserts to the service schema for 10 keys (lower bound 1)");
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task Replay_OfAppliedEvents_CostsNoUpsert_AndStaleEventDoesNotRevert()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        await h.StartServiceAsync();
        await h.ProvisionAsync("web-1", "alice", "sre", "api", T0);
        await h.OwnerChangedAsync("web-1", "bob", T0.AddMinutes(5));
        await Eventually.UntilAsync(() => h.Rows(SyncHarness.HostSchema).GetValueOrDefault("web-1")?["owner"] == "bob", TimeSpan.FromSeconds(20), "bob");
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        var upserts = h.Simulator.State.Stats.Requests("data/upsert");

        // The same events again, and one that occurred before bob took over.
        await h.ProvisionAsync("web-1", "alice", "sre", "api", T0);
        await h.OwnerChangedAsync("web-1", "bob", T0.AddMinutes(5));
        await h.OwnerChangedAsync("web-1", "mallory", T0.AddMinutes(1));
        await h.DrainedAsync(TimeSpan.FromSeconds(20));
        await h.AssertNothingLeftAsync();

        Assert.Equal(upserts, h.Simulator.State.Stats.Requests("data/upsert"));
        Assert.Equal("bob", h.Rows(SyncHarness.HostSchema)["web-1"]["owner"]);
        Assert.Empty(await h.DrainErrorQueueAsync());
    }

    [Fact]
    public async Task FlakySimulator_With5xx429AndLatency_StillEndsWithExactRows()
    {
        await using var h = await SyncHarness.CreateAsync(broker, o => o.Faults = new FaultOptions
        {
            ServerErrorRate = 0.2, ThrottleRate = 0.1, LatencyMs = 5, LatencyJitterMs = 20, Seed = 42,
        });
        var (hosts, services) = await PublishBurstAsync(h, hosts: 300, events: 3000, seed: 11);
        await h.StartServiceAsync();

        await Eventually.UntilAsync(() => hosts.Matches(h.Rows(SyncHarness.HostSchema)) && services.Matches(h.Rows(SyncHarness.ServiceSchema)),
            TimeSpan.FromSeconds(90), () => "rows to match the model: " + hosts.Diff(h.Rows(SyncHarness.HostSchema)));
        await h.DrainedAsync(TimeSpan.FromSeconds(30));
        await h.AssertNothingLeftAsync();
        var stats = h.Simulator.State.Stats;
        Assert.True(stats.ThrottledBy(SimStats.Causes.Injected) + stats.Requests(status: 500) + stats.Requests(status: 502) + stats.Requests(status: 503) > 0,
            "the simulator injected no fault, so the test proved nothing");
        Assert.Equal(0, stats.ThrottledBy(SimStats.Causes.AccountRate));
        Assert.Equal(0, stats.ThrottledBy(SimStats.Causes.SchemaLock));
        Assert.Empty(await h.DrainErrorQueueAsync());
    }
}
