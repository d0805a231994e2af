using FlashdutySync.Tests.Support;
using Inventory.Contracts;
using MassTransit;
using FlashdutySync.Messaging;

namespace FlashdutySync.Tests.Integration;

[Collection(BrokerCollection.Name)]
public sealed class PipelineTests(RabbitMqFixture broker)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task PlainJsonAndMassTransitEvents_AreAppliedAsModelRows_AndQueuesDrain()
    {
        await using var h = await SyncHarness.CreateAsync(broker);
        await h.StartServiceAsync();
        var hosts = new RowModel("host", "owner", "team", "service");
        var services = new RowModel("service", "owner", "team");
        void Model(DateTimeOffset at, params (string, string?)[] labels)
        {
            hosts.Apply(at, labels);
            services.Apply(at, labels);
        }

        for (var i = 0; i < 20; i++)
        {
            await h.ProvisionAsync($"web-{i:00}", "alice", "sre", $"svc-{i % 3}", T0.AddSeconds(i));
            Model(T0.AddSeconds(i), ("host", $"web-{i:00}"), ("owner", "alice"), ("team", "sre"), ("service", $"svc-{i % 3}"));
        }

        // .NET publishers use MassTransit with the contract types, mapped to the same exchanges.
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(broker.Uri);
            MessagingExtensions.MapContractExchanges(cfg);
        });
        await bus.StartAsync();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                var at = T0.AddMinutes(1).AddSeconds(i);
                await bus.Publish(new OwnerChanged { Host = $"web-{i:00}", Owner = "bob", OccurredAt = at });
                Model(at, ("host", $"web-{i:00}"), ("owner", "bob"));
            }

            await bus.Publish(new HostProvisioned { Host = "db-1", Owner = "carol", Team = "data", Service = "pg", OccurredAt = T0.AddMinutes(2) });
            Model(T0.AddMinutes(2), ("host", "db-1"), ("owner", "carol"), ("team", "data"), ("service", "pg"));
        }
        finally
        {
            await bus.StopAsync();
        }

        await Eventually.UntilAsync(() => hosts.Matches(h.Rows(SyncHarness.HostSchema)) && services.Matches(h.Rows(SyncHarness.ServiceSchema)),
            TimeSpan.FromSeconds(30), () => "rows to match the model: " + hosts.Diff(h.Rows(SyncHarness.HostSchema)));
        await h.DrainedAsync(TimeSpan.FromSeconds(10));
        await h.AssertNothingLeftAsync();
        Assert.Empty(await h.DrainErrorQueueAsync());
        Assert.Equal(0, h.Simulator.State.Stats.Total429);
        Assert.True(h.Simulator.State.GetSchema(SyncHarness.HostSchema)!.MaxConcurrentWrites <= 1);
    }
}
