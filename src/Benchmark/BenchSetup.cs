using Flashduty.Simulator;
using Inventory.Contracts;
using RabbitMQ.Client;

namespace Benchmark;

/// <summary>What the benchmark and the fault suite share: the two schemas, the service's queue, the rows check.</summary>
public static class BenchSetup
{
    public const string HostSchema = "665f1a2b3c4d5e6f7a8b9c01";
    public const string ServiceSchema = "665f1a2b3c4d5e6f7a8b9c02";

    public static void AddSchemas(SimulatorState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        state.AddSchema(HostSchema, "host_owner", ["host"], ["owner", "team", "service"]);
        state.AddSchema(ServiceSchema, "service_owner", ["service"], ["owner", "team"]);
    }

    /// <summary>
    /// Declares the queue as the service does (single active consumer; <paramref name="queueType"/> <c>quorum</c> as
    /// the service with <c>RabbitMq__QueueType=quorum</c>) and binds it to the event exchanges.
    /// </summary>
    public static async Task DeclareQueueAsync(IConnection connection, string queue, string? queueType = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var channel = await connection.CreateChannelAsync();
        var arguments = new Dictionary<string, object?> { ["x-single-active-consumer"] = true };
        if (queueType is not null) arguments["x-queue-type"] = queueType;
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, arguments: arguments);
        foreach (var (exchange, _) in InventoryExchanges.All)
        {
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true);
            await channel.QueueBindAsync(queue, exchange, "");
        }
    }

    /// <summary>Deletes the queue and the ones the service puts beside it.</summary>
    public static async Task DropQueuesAsync(IConnection connection, string queue)
    {
        ArgumentNullException.ThrowIfNull(connection);
        await using var channel = await connection.CreateChannelAsync();
        foreach (var q in new FlashdutySync.Messaging.RabbitMqOptions { QueueName = queue }.Queues)
        {
            try
            {
                await channel.QueueDeleteAsync(q);
            }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException)
            {
            }
        }
    }

    public static bool RowsMatch(SimulatorState state, EventSet set) => !Differences(state, set).Any();

    /// <summary>Each row that differs from the model of the events, described.</summary>
    public static IEnumerable<string> Differences(SimulatorState state, EventSet set)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(set);
        foreach (var (schema, expected) in new[]
                 {
                     (HostSchema, EventSet.Complete(set.Hosts, "host", "owner", "team", "service")),
                     (ServiceSchema, EventSet.Complete(set.Services, "service", "owner", "team")),
                 })
        {
            var actual = state.GetSchema(schema)!.Snapshot().ToDictionary(r => r.Key, r => r.Fields);
            foreach (var (key, want) in expected)
            {
                var have = actual.GetValueOrDefault(key);
                if (have is null || want.Any(kv => have[kv.Key] != kv.Value))
                    yield return $"{key}: model {string.Join(",", want.Values)}, Flashduty {(have is null ? "no row" : string.Join(",", have.Values))}";
            }

            foreach (var key in actual.Keys.Where(k => !expected.ContainsKey(k))) yield return $"{key}: not in the model";
        }
    }
}
