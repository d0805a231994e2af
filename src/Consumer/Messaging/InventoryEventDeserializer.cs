using System.Net.Mime;
using System.Runtime.Serialization;
using Inventory.Contracts;
using MassTransit;
using MassTransit.Serialization;

namespace FlashdutySync.Messaging;

/// <summary>
/// Reads plain JSON events (content type <c>application/json</c>, or none) from any publisher. A plain body does
/// not say which event it is, so the exchange it was published to does (or the <see cref="EventTypeHeader"/> the
/// service adds when it moves an event between its own queues). Without that, every consumer on the queue would
/// take every plain message as its own type.
/// </summary>
internal sealed class InventoryEventDeserializer : IMessageDeserializer, ISerializerFactory
{
    /// <summary>Names the event's exchange on messages the service re-publishes (wait queue, moved-back errors).</summary>
    public const string EventTypeHeader = "x-inventory-event";

    private static readonly Dictionary<string, string> UrnByExchange =
        InventoryExchanges.All.ToDictionary(x => x.Exchange, x => MessageUrn.ForTypeString(x.MessageType), StringComparer.Ordinal);

    private static readonly Dictionary<string, string> NameByUrn =
        InventoryExchanges.All.ToDictionary(x => MessageUrn.ForTypeString(x.MessageType), x => x.MessageType.Name, StringComparer.Ordinal);

    private readonly SystemTextJsonRawMessageSerializer _raw = new();

    public ContentType ContentType => SystemTextJsonRawMessageSerializer.JsonContentType;

    public void Probe(ProbeContext context) => _raw.Probe(context);

    public ConsumeContext Deserialize(ReceiveContext receiveContext)
    {
        var headers = receiveContext.TransportHeaders;
        if (headers.GetMessageTypes().Length == 0)
        {
            var exchange = Headers.Text(headers, EventTypeHeader) ?? (receiveContext as RabbitMqBasicConsumeContext)?.Exchange ?? "";
            if (!UrnByExchange.TryGetValue(exchange, out var urn))
            {
                throw new SerializationException(
                    $"a plain JSON message came from exchange '{exchange}', which is not an inventory event exchange " +
                    $"({string.Join(", ", UrnByExchange.Keys)}): it cannot be told which event it is");
            }

            headers = new TypedHeaders(headers, urn);
        }

        var types = headers.GetMessageTypes();
        if (types.Length == 1 && NameByUrn.TryGetValue(types[0], out var eventType))
            RawEventValidator.Validate(receiveContext.Body.GetBytes(), eventType);

        return new BodyConsumeContext(receiveContext, _raw.Deserialize(receiveContext.Body, headers, receiveContext.InputAddress));
    }

    public SerializerContext Deserialize(MessageBody body, MassTransit.Headers headers, Uri? destinationAddress = null) =>
        _raw.Deserialize(body, headers, destinationAddress);

    public MessageBody GetMessageBody(string text) => _raw.GetMessageBody(text);

    public IMessageSerializer CreateSerializer() => _raw;

    public IMessageDeserializer CreateDeserializer() => this;

    /// <summary>The transport headers plus the message type the exchange implies.</summary>
    private sealed class TypedHeaders(MassTransit.Headers inner, string urn) : MassTransit.Headers
    {
        public IEnumerable<KeyValuePair<string, object>> GetAll() =>
            inner.GetAll().Append(new KeyValuePair<string, object>(MessageHeaders.MessageType, urn));

        public bool TryGetHeader(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out object? value)
        {
            if (key == MessageHeaders.MessageType)
            {
                value = urn;
                return true;
            }

            return inner.TryGetHeader(key, out value);
        }

        public T? Get<T>(string key, T? defaultValue = null) where T : class =>
            key == MessageHeaders.MessageType ? urn as T ?? defaultValue : inner.Get(key, defaultValue);

        public T? Get<T>(string key, T? defaultValue = null) where T : struct => inner.Get(key, defaultValue);

        public IEnumerator<HeaderValue> GetEnumerator() =>
            inner.Append(new HeaderValue(MessageHeaders.MessageType, urn)).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
