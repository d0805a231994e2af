using System.Text;
using System.Text.Json;
using RabbitMQ.Client;

namespace InventoryPublisher;

/// <summary>
/// Publishes plain JSON events to the contract's exchanges, as a publisher in any language would: persistent,
/// content type <c>application/json</c>, camelCase, with publisher confirms. Many confirms may be outstanding at
/// once (RabbitMQ.Client's default of 128 caps a publisher near 1.2k msg/s).
/// </summary>
public sealed class RawPublisher : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };
    private readonly IConnection _connection;
    private readonly IChannel _channel;

    private RawPublisher(IConnection connection, IChannel channel)
    {
        _connection = connection;
        _channel = channel;
    }

    public static async Task<RawPublisher> ConnectAsync(Uri broker, int outstandingConfirms = 5000, CancellationToken ct = default)
    {
        var connection = await new ConnectionFactory { Uri = broker, ClientProvidedName = "inventory-publisher" }.CreateConnectionAsync(ct);
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(
            publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true,
            outstandingPublisherConfirmationsRateLimiter: new ThrottlingRateLimiter(outstandingConfirms)), ct);
        foreach (var (exchange, _) in Inventory.Contracts.InventoryExchanges.All)
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, cancellationToken: ct);
        return new RawPublisher(connection, channel);
    }

    /// <summary>Publishes and waits for the broker's confirm.</summary>
    public ValueTask PublishAsync(string exchange, object message, IDictionary<string, object?>? headers = null, CancellationToken ct = default) =>
        _channel.BasicPublishAsync(exchange, "", mandatory: false, new BasicProperties
        {
            ContentType = "application/json",
            Persistent = true,
            Headers = headers,
        }, Encoding.UTF8.GetBytes(message as string ?? JsonSerializer.Serialize(message, message.GetType(), Json)), ct);

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
