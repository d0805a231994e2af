using System.Runtime.Serialization;
using System.Text.Json;

namespace FlashdutySync.Messaging;

/// <summary>
/// Checks a plain-JSON event's shape before it is deserialized, so that the reason it lands in the error queue
/// with names the event and the field ("HostProvisioned (eventId e-7): field 'labels.rack' must be a string, not a
/// Number"), rather than a serializer's message about a path.
/// </summary>
internal static class RawEventValidator
{
    private static readonly string[] OptionalStrings = ["owner", "team", "service", "previousOwner", "eventId"];

    public static void Validate(ReadOnlySpan<byte> body, string eventType)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray());
        }
        catch (JsonException ex)
        {
            throw new SerializationException($"{eventType}: the body is not valid JSON ({ex.Message})");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Invalid(eventType, null, "(body)", $"must be a JSON object, not {root.ValueKind}");
            var eventId = Property(root, "eventId") is { ValueKind: JsonValueKind.String } id ? id.GetString() : null;

            RequireString(root, "host", eventType, eventId);
            RequireString(root, "occurredAt", eventType, eventId);
            // The deserializer's own ISO 8601 reading, so that what passes here also deserializes.
            if (!Property(root, "occurredAt")!.Value.TryGetDateTimeOffset(out _))
                throw Invalid(eventType, eventId, "occurredAt", $"'{Property(root, "occurredAt")!.Value.GetString()}' is not an RFC 3339 timestamp");
            if (eventType == "OwnerChanged") RequireString(root, "owner", eventType, eventId);

            foreach (var name in OptionalStrings)
            {
                if (Property(root, name) is { } value && value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                    throw Invalid(eventType, eventId, name, $"must be a string, not {value.ValueKind}");
            }

            if (Property(root, "labels") is { } labels && labels.ValueKind != JsonValueKind.Null)
            {
                if (labels.ValueKind != JsonValueKind.Object) throw Invalid(eventType, eventId, "labels", $"must be an object of label → string, not {labels.ValueKind}");
                foreach (var label in labels.EnumerateObject())
                {
                    if (label.Value.ValueKind != JsonValueKind.String)
                        throw Invalid(eventType, eventId, $"labels.{label.Name}", $"must be a string, not {label.Value.ValueKind}");
                }
            }
        }
    }

    private static void RequireString(JsonElement root, string name, string eventType, string? eventId)
    {
        var value = Property(root, name);
        if (value is null || value.Value.ValueKind == JsonValueKind.Null) throw Invalid(eventType, eventId, name, "is required");
        if (value.Value.ValueKind != JsonValueKind.String) throw Invalid(eventType, eventId, name, $"must be a string, not {value.Value.ValueKind}");
        if (value.Value.GetString()!.Length == 0) throw Invalid(eventType, eventId, name, "is empty");
    }

    /// <summary>Case-insensitive, as the deserializer reads the body.</summary>
    private static JsonElement? Property(JsonElement root, string name)
    {
        foreach (var property in root.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase)) return property.Value;
        }

        return null;
    }

    private static SerializationException Invalid(string eventType, string? eventId, string field, string problem) =>
        new($"{eventType}{(eventId is null ? "" : $" (eventId {eventId})")}: field '{field}' {problem}");
}
