using System.Text;
using System.Text.Json;
using Flashduty.Simulator;
using FlashdutySync;
using Inventory.Contracts;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;

namespace FlashdutySync.Tests.Support;

/// <summary>
/// One test's world: the simulator in-process with the example schemas, the service's queues under a name of the
/// test's own, the service itself, and helpers to publish events and read what came of them.
/// </summary>
public sealed class SyncHarness : IAsyncDisposable
{
    public const string HostSchema = "665f1a2b3c4d5e6f7a8b9c01";
    public const string ServiceSchema = "665f1a2b3c4d5e6f7a8b9c02";
    public const string AppKey = "test-app-key-7f3a9c";

    private readonly RabbitMqFixture _broker;
    private readonly List<WebApplication> _services = [];
    private IChannel? _channel;

    private SyncHarness(RabbitMqFixture broker, SimulatorHost simulator, string queue)
    {
        _broker = broker;
        Simulator = simulator;
        Queue = queue;
    }

    public SimulatorHost Simulator { get; }
    public string Queue { get; }
    public string ErrorQueue => Queue + "_error";
    public string WaitQueue => Queue + "_wait";
    public Dictionary<string, string?> Settings { get; } = new();

    public static async Task<SyncHarness> CreateAsync(RabbitMqFixture broker, Action<SimulatorOptions>? simulator = null)
    {
        var sim = await SimulatorHost.StartAsync(o =>
        {
            o.AppKeys = [AppKey];
            simulator?.Invoke(o);
        });
        sim.State.AddSchema(HostSchema, "host_owner", ["host"], ["owner", "team", "service"]);
        sim.State.AddSchema(ServiceSchema, "service_owner", ["service"], ["owner", "team"]);
        var harness = new SyncHarness(broker, sim, "test-" + Guid.NewGuid().ToString("N")[..12]);
        harness._channel = await broker.Connection.CreateChannelAsync(new CreateChannelOptions(true, true, outstandingPublisherConfirmationsRateLimiter: null));
        await harness.DeclareTopologyAsync();
        return harness;
    }

    /// <summary>Declares the service's queue as MassTransit will, so that events published before the service starts wait in it.</summary>
    private async Task DeclareTopologyAsync()
    {
        var arguments = new Dictionary<string, object?>(_broker.QueueArguments) { ["x-single-active-consumer"] = true };
        await _channel!.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false, arguments);
        foreach (var (exchange, _) in InventoryExchanges.All)
        {
            await _channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true);
            await _channel.QueueBindAsync(Queue, exchange, "");
        }
    }

    /// <summary>The same settings as environment variables, for the service run as its own process.</summary>
    public Dictionary<string, string> ProcessEnvironment() => AllSettings().Where(kv => kv.Value is not null)
        .ToDictionary(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal), kv => kv.Value!);

    /// <summary>The service's settings as configuration keys (for a tool run with the service's configuration, say the Publisher).</summary>
    public Dictionary<string, string?> ServiceSettings() => AllSettings();

    private Dictionary<string, string?> AllSettings()
    {
        var settings = new Dictionary<string, string?>
        {
            ["RabbitMq:Uri"] = _broker.Uri.ToString(),
            ["RabbitMq:QueueName"] = Queue,
            ["Flashduty:BaseUrl"] = Simulator.BaseUrl.ToString(),
            ["Flashduty:AppKey"] = AppKey,
            ["Flashduty:SchemaIds:0"] = HostSchema,
            ["Flashduty:SchemaIds:1"] = ServiceSchema,
            ["Flashduty:Retry:BaseDelay"] = "00:00:00.050",
            ["Flashduty:Retry:MaxDelay"] = "00:00:01",
            ["Flashduty:AttemptTimeout"] = "00:00:05",
            ["Sync:ProbeInterval"] = "00:00:00.200",
            ["Sync:RetryInterval"] = "00:00:00.300",
            ["Health:Port"] = "0",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in _broker.ServiceSettings) settings[k] = v;
        foreach (var (k, v) in Settings) settings[k] = v;
        return settings;
    }

    /// <summary>Starts one instance of the service against the simulator and this test's queue.</summary>
    public async Task<WebApplication> StartServiceAsync(Action<WebApplicationBuilder>? configure = null)
    {
        var settings = AllSettings();
        var app = ServiceApp.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            configure?.Invoke(builder);
        });
        try
        {
            await app.StartAsync();
        }
        catch
        {
            // A start refused (a mapping that does not fit, say): nothing of it may outlive the test.
            await app.DisposeAsync();
            throw;
        }

        _services.Add(app);
        return app;
    }

    public async Task PublishRawAsync(string exchange, object body, IDictionary<string, object?>? headers = null)
    {
        var json = body as string ?? JsonSerializer.Serialize(body, JsonSerializerOptions.Web);
        var props = new BasicProperties { ContentType = "application/json", Persistent = true, Headers = headers };
        await _channel!.BasicPublishAsync(exchange, "", mandatory: false, props, Encoding.UTF8.GetBytes(json));
    }

    public Task ProvisionAsync(string host, string? owner, string? team, string? service, DateTimeOffset at, object? labels = null, string? eventId = null) =>
        PublishRawAsync(InventoryExchanges.HostProvisioned, new { host, owner, team, service, labels, occurredAt = at, eventId });

    public Task OwnerChangedAsync(string host, string owner, DateTimeOffset at) =>
        PublishRawAsync(InventoryExchanges.OwnerChanged, new { host, owner, occurredAt = at });

    public Task DecommissionAsync(string host, DateTimeOffset at) =>
        PublishRawAsync(InventoryExchanges.HostDecommissioned, new { host, occurredAt = at });

    public Dictionary<string, IReadOnlyDictionary<string, string>> Rows(string schemaId) =>
        Simulator.State.GetSchema(schemaId)!.Snapshot().ToDictionary(r => r.Key, r => r.Fields);

    public async Task<uint> CountAsync(string queue)
    {
        var ok = await _channel!.QueueDeclarePassiveAsync(queue);
        return ok.MessageCount;
    }

    /// <summary>Waits until the service's queue and wait queue are empty and nothing is unacknowledged.</summary>
    public Task DrainedAsync(TimeSpan timeout) => Eventually.UntilAsync(async () =>
    {
        var main = await _channel!.QueueDeclarePassiveAsync(Queue);
        var waiting = await SafeCountAsync(WaitQueue);
        var busy = _services.Sum(app => app.Services.GetRequiredService<FlashdutySync.Sync.InflowTracker>().ActiveBatches);
        return main.MessageCount == 0 && waiting == 0 && busy == 0 && await _broker.UnacknowledgedAsync(Queue) == 0;
    }, timeout, $"queue {Queue} to drain");

    /// <summary>After a broker restart: a new channel once the fixture's connection has recovered.</summary>
    public Task ReopenChannelAsync() => Eventually.UntilAsync(async () =>
    {
        try
        {
            var channel = await _broker.Connection.CreateChannelAsync(new CreateChannelOptions(true, true, outstandingPublisherConfirmationsRateLimiter: null));
            await channel.QueueDeclarePassiveAsync(Queue);
            _channel = channel;
            return true;
        }
        catch (Exception e) when (e is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            return false;
        }
    }, TimeSpan.FromSeconds(60), "a channel to RabbitMQ after its restart");

    /// <summary>The queue's message count, 0 while it does not exist (the channel the failed check closed is opened again).</summary>
    public async Task<uint> SafeCountAsync(string queue)
    {
        try
        {
            return await CountAsync(queue);
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
        {
            _channel = await _broker.Connection.CreateChannelAsync(new CreateChannelOptions(true, true));
            return 0;
        }
    }

    /// <summary>
    /// Stops every instance, then checks that nothing is left: deliveries a stopped consumer had not acknowledged
    /// would be back in the queue by now.
    /// </summary>
    public async Task AssertNothingLeftAsync()
    {
        foreach (var app in _services.ToList()) await StopServiceAsync(app);
        Assert.Equal(0u, await CountAsync(Queue));
        Assert.Equal(0u, await SafeCountAsync(WaitQueue));
    }

    /// <summary>Reads (and removes) every message of the error queue, with its headers as text.</summary>
    public async Task<List<(string Body, Dictionary<string, string> Headers)>> DrainErrorQueueAsync()
    {
        var result = new List<(string, Dictionary<string, string>)>();
        // Consumed, not basic.get: a quorum error queue (single active consumer, as MassTransit declares it) refuses basic.get.
        while (await FlashdutySync.Messaging.QueueReader.TakeAsync(_channel!, ErrorQueue, 1000, TimeSpan.FromSeconds(5), CancellationToken.None) is { Count: > 0 } batch)
        foreach (var got in batch)
        {
            await _channel!.BasicAckAsync(got.DeliveryTag, multiple: false);
            var headers = (got.Properties.Headers ?? new Dictionary<string, object?>()).ToDictionary(
                h => h.Key, h => h.Value is byte[] b ? Encoding.UTF8.GetString(b) : h.Value?.ToString() ?? "");
            result.Add((Encoding.UTF8.GetString(got.Body), headers));
        }

        return result;
    }

    public async Task StopServiceAsync(WebApplication app)
    {
        await app.StopAsync();
        await app.DisposeAsync();
        _services.Remove(app);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _services.ToList()) await StopServiceAsync(app);
        if (_channel is not null)
        {
            foreach (var queue in new FlashdutySync.Messaging.RabbitMqOptions { QueueName = Queue }.Queues.Append(Queue + "_holder"))
            {
                try
                {
                    if (!_channel.IsOpen) _channel = await _broker.Connection.CreateChannelAsync();
                    await _channel.QueueDeleteAsync(queue);
                }
                catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
                {
                    // a queue the test never made
                }
            }

            await _channel.DisposeAsync();
        }

        await Simulator.DisposeAsync();
    }
}
