using FlashdutySync.Sync;
using Inventory.Contracts;
using MassTransit;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Messaging;

public static class MessagingExtensions
{
    /// <summary>
    /// Adds the bus: one durable queue bound to the three event exchanges (single active consumer, so that of N
    /// replicas exactly one consumes), batch consumers for each event, plain-JSON and MassTransit envelopes alike.
    /// </summary>
    public static IHostApplicationBuilder AddMessaging(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptionsWithValidateOnStart<RabbitMqOptions>()
            .Configure(o => RabbitMqOptions.BindFrom(builder.Configuration.GetSection(RabbitMqOptions.SectionName), o))
            .ValidateDataAnnotations();
        builder.Services.AddSingleton<IValidateOptions<RabbitMqOptions>, RabbitMqOptionsValidator>();
        builder.Services.AddSingleton<MessageRerouter>();
        builder.Services.AddSingleton<IRefusedEvents>(sp => sp.GetRequiredService<MessageRerouter>());
        builder.Services.AddSingleton<RabbitMqRowJournal>();
        builder.Services.AddSingleton<IRowJournal>(sp => sp.GetRequiredService<RabbitMqRowJournal>());
        builder.Services.AddSingleton<BudgetLedger>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BudgetLedger>());
        builder.Services.AddSingleton(sp => new InflowTracker(sp.GetRequiredService<IOptions<RabbitMqOptions>>().Value.BatchConcurrency,
            sp.GetRequiredService<BudgetLedger>().Activate, sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<IOptions<SyncOptions>>().Value.QuietPeriod, sp.GetRequiredService<IOptions<SyncOptions>>().Value.StreamQuietPeriod));
        builder.Services.AddSingleton<AckOrder>();
        builder.Services.AddSingleton<EventBatchProcessor>();
        builder.Services.AddHostedService<QueueTopology>();

        builder.Services.AddMassTransit(x =>
        {
            x.AddConsumer<HostProvisionedConsumer, InventoryConsumerDefinition<HostProvisionedConsumer>>();
            x.AddConsumer<OwnerChangedConsumer, InventoryConsumerDefinition<OwnerChangedConsumer>>();
            x.AddConsumer<HostDecommissionedConsumer, InventoryConsumerDefinition<HostDecommissionedConsumer>>();
            x.UsingRabbitMq((context, cfg) =>
            {
                var o = context.GetRequiredService<IOptions<RabbitMqOptions>>().Value;
                cfg.Host(o.Uri, h =>
                {
                    // A node that goes must not leave the connection wedged for minutes: see RabbitMqOptions.Heartbeat.
                    h.Heartbeat(o.Heartbeat);
                    // A cluster: MassTransit connects to whichever node answers and, when its node goes, to another.
                    if (!string.IsNullOrWhiteSpace(o.Nodes))
                        h.UseCluster(c =>
                        {
                            foreach (var (host, port) in BrokerNodes.Parse(o, out _)) c.Node($"{host}:{port}");
                        });
                });
                cfg.ConnectReceiveObserver(context.GetRequiredService<InflowTracker>());
                cfg.ConnectReceiveObserver(context.GetRequiredService<AckOrder>());
                MapContractExchanges(cfg);
                cfg.ReceiveEndpoint(o.QueueName, e =>
                {
                    e.ConfigureConsumeTopology = false;
                    e.SingleActiveConsumer = o.SingleActiveConsumer;
                    e.SetQueueArgument("x-queue-type", o.QueueTypeArgument);
                    e.AddDeserializer(new InventoryEventDeserializer(), isDefault: true);
                    foreach (var (exchange, _) in InventoryExchanges.All) e.Bind(exchange);
                    e.ConfigureConsumer<HostProvisionedConsumer>(context);
                    e.ConfigureConsumer<OwnerChangedConsumer>(context);
                    e.ConfigureConsumer<HostDecommissionedConsumer>(context);
                });
            });
        });
        builder.Services.AddHostedService<StartWithoutEvents>();
        // Registered after the bus, so it stops before it: see ShutdownCoordinator.
        builder.Services.AddHostedService<ShutdownCoordinator>();
        return builder;
    }

    /// <summary>Maps each contract type to its published exchange, as every .NET publisher must.</summary>
    public static void MapContractExchanges(IRabbitMqBusFactoryConfigurator cfg)
    {
        ArgumentNullException.ThrowIfNull(cfg);
        cfg.Message<HostProvisioned>(m => m.SetEntityName(InventoryExchanges.HostProvisioned));
        cfg.Message<OwnerChanged>(m => m.SetEntityName(InventoryExchanges.OwnerChanged));
        cfg.Message<HostDecommissioned>(m => m.SetEntityName(InventoryExchanges.HostDecommissioned));
    }
}

/// <summary>
/// Hosted services stop in reverse order, so this runs before the bus stops: the engine journals what batches have
/// applied, finishes its writes in flight and releases the journal; batches still in hand give their events back.
/// </summary>
internal sealed class ShutdownCoordinator(MappingEngine engine) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => engine.QuiesceAsync(cancellationToken);
}

/// <summary>Checks every queue's type, then declares the error and wait queues, before the bus starts consuming.</summary>
internal sealed class QueueTopology(MessageRerouter rerouter, IOptions<RabbitMqOptions> rabbit, IOptions<SyncOptions> sync, ILogger<QueueTopology> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var version = await ServiceQueues.VerifyAsync(rabbit.Value, sync.Value, cancellationToken);
        if (ServiceQueues.QuorumDeliveryLimitApplies(version, rabbit.Value.QueueType)) Log.QuorumDeliveryLimit(logger, version!, rabbit.Value.QueueName);
        await rerouter.EnsureQueuesAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Once the bus runs: this replica takes the row journal without waiting for an event (see <see cref="MappingEngine.ActivateWithoutEvents"/>).</summary>
internal sealed class StartWithoutEvents(MappingEngine engine) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        engine.ActivateWithoutEvents();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
