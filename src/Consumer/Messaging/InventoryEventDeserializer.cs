using System.Net.Mime;
using System.Runtime.Serialization;
using System.Text.Json;
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

    private static readonly Dictionary<string, Type> TypeByUrn =
        InventoryExchanges.All.ToDictionary(x => MessageUrn.ForTypeString(x.MessageType), x => x.MessageType, StringComparer.Ordinal);

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
        if (types.Length != 1 || !TypeByUrn.TryGetValue(types[0], out var eventType))
            return new BodyConsumeContext(receiveContext, _raw.Deserialize(receiveContext.Body, headers, receiveContext.InputAddress));

        // One pass straight into the contract type, not three (a validating parse, MassTransit's body → JsonElement,
        // JsonElement → type): those were ~18% of the service's sampled CPU during a backlog drain, and their garbage
        // more (bench/profile.md). A body that does not read cleanly is parsed again by the validator, only to name
        // what is wrong.
        var body = receiveContext.Body.GetBytes();
        object? message = null;
        JsonException? error = null;
        try
        {
            message = JsonSerializer.Deserialize(body, eventType, SystemTextJsonMessageSerializer.Options);
        }
        catch (JsonException ex)
        {
            error = ex;
        }

        if (message is null || !IsComplete(message))
        {
            RawEventValidator.Validate(body, eventType.Name);
            throw new SerializationException($"{eventType.Name}: the body cannot be read as one ({error?.Message ?? "it is null"})");
        }

        return new BodyConsumeContext(receiveContext, new TypedSerializerContext(message, ContentType,
            new RawMessageContext(headers, receiveContext.InputAddress, RawSerializerOptions.AnyMessageType), types));
    }

    /// <summary>What the contract's <c>required</c> cannot say: required strings are not null or empty, labels are strings.</summary>
    private static bool IsComplete(object message) => message switch
    {
        HostProvisioned e => !string.IsNullOrEmpty(e.Host) && (e.Labels is null || e.Labels.Values.All(v => v is not null)),
        OwnerChanged e => !string.IsNullOrEmpty(e.Host) && !string.IsNullOrEmpty(e.Owner),
        HostDecommissioned e => !string.IsNullOrEmpty(e.Host),
        _ => false,
    };

    public SerializerContext Deserialize(MessageBody body, MassTransit.Headers headers, Uri? destinationAddress = null) =>
        _raw.Deserialize(body, headers, destinationAddress);

    public MessageBody GetMessageBody(string text) => _raw.GetMessageBody(text);

    public IMessageSerializer CreateSerializer() => _raw;

    public IMessageDeserializer CreateDeserializer() => this;

    /// <summary>A message already read into its contract type: MassTransit hands it to the consumer as it is.</summary>
    private sealed class TypedSerializerContext(object message, ContentType contentType, MessageContext context, string[] types)
        : SystemTextJsonSerializerContext(SystemTextJsonMessageSerializer.Instance, SystemTextJsonMessageSerializer.Options, contentType, context, types,
            message: message)
    {
        public override bool IsSupportedMessageType<T>() => Message is T;

        public override bool IsSupportedMessageType(Type messageType) => messageType.IsInstanceOfType(Message);

        public override bool TryGetMessage(Type messageType, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out object? message)
        {
            message = messageType.IsInstanceOfType(Message) ? Message : null;
            return message is not null;
        }

        public override IMessageSerializer GetMessageSerializer() =>
            new SystemTextJsonBodyMessageSerializer(Message, ContentType, Options, RawSerializerOptions.AnyMessageType);
    }

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
