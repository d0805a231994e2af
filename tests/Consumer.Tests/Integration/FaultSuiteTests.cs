using Benchmark;
using Flashduty.Simulator;
using FlashdutySync.Tests.Support;
using Inventory.Contracts;
using Xunit.Abstractions;

namespace FlashdutySync.Tests.Integration;

/// <summary>
/// The short fault suite (the benchmark program runs the long one): the service as its own process, killed with
/// kill -9 at random moments and restarted, then RabbitMQ restarted under the last one, against a simulator that fails
/// 20% of calls with 5xx, throttles 5%, and answers in 50–500 ms. At the end the rows equal the model, and the error
/// queue holds exactly the bad events.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class FaultSuiteTests(RabbitMqFixture broker, ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task KilledThreeTimesAndBrokerRestartedAgainstAFlakySlowFlashduty_LosesNothing_AndSetsAsideExactlyTheBadEvents()
    {
        await using var h = await SyncHarness.CreateAsync(broker, o => o.Faults = new FaultOptions
        {
            ServerErrorRate = 0.2, ThrottleRate = 0.05, LatencyMs = 50, LatencyJitterMs = 450, Seed = 9,
        });
        var hosts = new RowModel("host", "owner", "team", "service");
        var services = new RowModel("service", "owner", "team");
        var random = new Random(21);
        for (var i = 0; i < 5000; i++)
        {
            var host = $"h{random.Next(500):000}";
            var at = T0.AddSeconds(random.Next(100_000));
            (string, string?)[] labels = [("host", host), ("owner", $"o{random.Next(40)}"), ("team", $"t{random.Next(5)}"), ("service", $"s{random.Next(20)}")];
            await h.ProvisionAsync(host, labels[1].Item2, labels[2].Item2, labels[3].Item2, at);
            hosts.Apply(at, labels);
            services.Apply(at, labels);
            if (i % 500 == 0) await h.PublishRawAsync(InventoryExchanges.HostProvisioned, new { owner = "x", occurredAt = T0, eventId = $"bad-{i}" });
        }

        ServiceProcess.Verbose = Environment.GetEnvironmentVariable("FAULT_SUITE_VERBOSE") == "1";
        var dll = Path.Combine(AppContext.BaseDirectory, "Consumer.dll");
        var environment = h.ProcessEnvironment();
        var kills = 0;
        for (var k = 0; k < 3; k++)
        {
            var victim = await ServiceProcess.StartAsync(dll, environment, 19090 + k);
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(500, 2500)));
            victim.KillHard();
            kills++;
        }

        await using (var survivor = await ServiceProcess.StartAsync(dll, environment, 19099))
        {
            // RabbitMQ restarts under the running service: it must take up its work again on its own.
            await broker.RestartBrokerAsync();
            await h.ReopenChannelAsync();
            await Eventually.UntilAsync(() => hosts.Matches(h.Rows(SyncHarness.HostSchema)) && services.Matches(h.Rows(SyncHarness.ServiceSchema)),
                TimeSpan.FromMinutes(3), () => "rows to match the model: hosts " + hosts.Diff(h.Rows(SyncHarness.HostSchema)) +
                                               "; services " + services.Diff(h.Rows(SyncHarness.ServiceSchema)));
            await h.DrainedAsync(TimeSpan.FromMinutes(1));
        }

        Assert.Equal(0u, await h.CountAsync(h.Queue));
        var errors = await h.DrainErrorQueueAsync();
        Assert.Equal(10, errors.Count);
        Assert.All(errors, e => Assert.Contains("field 'host' is required", e.Headers["MT-Fault-Message"]));
        var stats = h.Simulator.State.Stats;
        output.WriteLine($"kills {kills}; upserts {stats.Requests("data/upsert")} ({stats.Requests("data/upsert", 200)} accepted); " +
                         $"5xx {stats.Requests(status: 500) + stats.Requests(status: 502) + stats.Requests(status: 503)}; injected 429s {stats.ThrottledBy(SimStats.Causes.Injected)}; " +
                         $"account 429s {stats.ThrottledBy(SimStats.Causes.AccountRate)}; lock 429s {stats.ThrottledBy(SimStats.Causes.SchemaLock)}");
        Assert.Equal(0, stats.ThrottledBy(SimStats.Causes.SchemaLock));
    }
}
