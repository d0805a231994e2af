using Flashduty.Simulator;
using FlashdutySync.Tests.Support;

namespace FlashdutySync.Tests.Integration;

[Collection(BrokerCollection.Name)]
public sealed class ReplicaTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task TwoReplicas_OneConsumes_StoppingItMidStream_TheOtherTakesOver_EveryEventApplied_No429_OneWriteAtATime()
    {
        await using var h = await SyncHarness.CreateAsync(broker, o =>
        {
            o.Faults = new FaultOptions { LatencyMs = 10 };
            o.RecentRequests = 100_000;
        });
        // A standby replica reads its schemas at start (2 requests per schema) while the active one may be spending
        // the whole budget: replicas leave that much headroom (README, "Running several replicas").
        h.Settings["Flashduty:RateLimit:PerSecond"] = "44";
        h.Settings["Flashduty:RateLimit:PerMinute"] = "990";
        var active = await h.StartServiceAsync();
        await h.StartServiceAsync();
        var hosts = new RowModel("host", "owner", "team", "service");
        var random = new Random(3);

        async Task PublishAsync(int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                var at = T0.AddSeconds(i);
                var host = $"h{random.Next(200):000}";
                var owner = $"o{i}";
                await h.ProvisionAsync(host, owner, "sre", "api", at);
                hosts.Apply(at, ("host", host), ("owner", owner), ("team", "sre"), ("service", "api"));
            }
        }

        await PublishAsync(0, 1000);
        await Eventually.UntilAsync(() => h.Simulator.State.Stats.Requests("data/upsert", status: 200) >= 1, TimeSpan.FromSeconds(20), "the active replica to write");
        var publishing = PublishAsync(1000, 3000);
        await h.StopServiceAsync(active);
        await publishing;

        await Eventually.UntilAsync(() => hosts.Matches(h.Rows(SyncHarness.HostSchema)), TimeSpan.FromSeconds(60),
            () => "rows to match the model: " + hosts.Diff(h.Rows(SyncHarness.HostSchema)) +
            $"; queue {h.CountAsync(h.Queue).Result}, unacked {broker.UnacknowledgedAsync(h.Queue).Result}, wait {h.CountAsync(h.WaitQueue).Result}, error {h.CountAsync(h.ErrorQueue).Result}");
        await h.DrainedAsync(TimeSpan.FromSeconds(30));
        await h.AssertNothingLeftAsync();
        var stats = h.Simulator.State.Stats;
        var recent = stats.Recent();
        var detail = string.Join("\n", recent.Where(r => r.Status == 429).Select(r =>
            $"429 at {r.Time:HH:mm:ss.fff} {r.Endpoint}: {recent.Count(x => x.Time > r.Time.AddSeconds(-1) && x.Time <= r.Time)} in the second before; first {recent.First().Time:HH:mm:ss.fff}"));
        Assert.True(stats.Total429 == 0, $"429s: account {stats.ThrottledBy(SimStats.Causes.AccountRate)}, lock {stats.ThrottledBy(SimStats.Causes.SchemaLock)}\n{detail}");
        Assert.Equal(1, h.Simulator.State.GetSchema(SyncHarness.HostSchema)!.MaxConcurrentWrites);
        Assert.Equal(1, h.Simulator.State.GetSchema(SyncHarness.ServiceSchema)!.MaxConcurrentWrites);
        var errors = await h.DrainErrorQueueAsync();
        Assert.True(errors.Count == 0, string.Join("\n", errors.Take(5).Select(e => e.Headers.GetValueOrDefault("MT-Fault-Message"))));
    }
}
