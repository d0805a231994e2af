using System.Text.RegularExpressions;
using Inventory.Contracts;

namespace FlashdutySync.Sync;

/// <summary>Turns contract messages into <see cref="InventoryEvent"/>s, or says precisely what is wrong with them.</summary>
public static partial class EventTranslator
{
    public const int MaxValueLength = 2048;

    private static readonly IReadOnlyDictionary<string, string> EmptyLabels = System.Collections.ObjectModel.ReadOnlyDictionary<string, string>.Empty;

    [GeneratedRegex("^[a-z][a-z0-9_]{0,39}$")]
    private static partial Regex LabelName();

    public static InventoryEvent Translate(HostProvisioned m) => Build(EventKind.HostProvisioned, m.Host, m.OccurredAt, m.EventId, m.Labels,
        ("owner", m.Owner), ("team", m.Team), ("service", m.Service));

    public static InventoryEvent Translate(OwnerChanged m)
    {
        if (string.IsNullOrEmpty(m.Owner)) throw Invalid(EventKind.OwnerChanged, m.Host, m.EventId, "owner", "is required (the new owner)");
        return Build(EventKind.OwnerChanged, m.Host, m.OccurredAt, m.EventId, m.Labels, ("owner", m.Owner));
    }

    public static InventoryEvent Translate(HostDecommissioned m) => Build(EventKind.HostDecommissioned, m.Host, m.OccurredAt, m.EventId, null);

    private static InventoryEvent Build(EventKind kind, string? host, DateTimeOffset occurredAt, string? eventId, IReadOnlyDictionary<string, string>? extra,
        params (string Label, string? Value)[] named)
    {
        if (string.IsNullOrEmpty(host)) throw Invalid(kind, host, eventId, "host", "is required");
        if (occurredAt == default) throw Invalid(kind, host, eventId, "occurredAt", "is required (RFC 3339)");
        var extraLabels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (label, value) in extra ?? EmptyLabels)
        {
            if (!LabelName().IsMatch(label)) throw Invalid(kind, host, eventId, $"labels.{label}", "is not a valid label name (^[a-z][a-z0-9_]{0,39}$)");
            if (value is null) throw Invalid(kind, host, eventId, $"labels.{label}", "is null; label values are strings");
            if (value.Length > 0) extraLabels[label] = value;
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal) { [EventFields.Host] = host };
        foreach (var (label, value) in named)
        {
            if (!string.IsNullOrEmpty(value)) fields[label] = value;
        }

        // A schema's mapping may read any of them, so every value is checked (a same-named field shadows a label only by name).
        foreach (var (label, value) in fields) Check(kind, host, eventId, label, value);
        foreach (var (label, value) in extraLabels) Check(kind, host, eventId, $"labels.{label}", value);

        // By name (no mapping): the event's own fields win over same-named extra labels.
        var labels = new Dictionary<string, string>(extraLabels, StringComparer.Ordinal);
        foreach (var (label, value) in fields) labels[label] = value;
        return new InventoryEvent(kind, labels, occurredAt, eventId) { Fields = fields, Extra = extraLabels };
    }

    private static void Check(EventKind kind, string host, string? eventId, string field, string value)
    {
        // The service joins a row's source values with U+001F to key it; a value holding one could pass for another row's.
        if (value.Contains(SchemaDefinition.KeySeparator, StringComparison.Ordinal))
            throw Invalid(kind, host, eventId, field, "contains the control character U+001F, which no label value may hold");
        if (value.Length > MaxValueLength)
            throw Invalid(kind, host, eventId, field, $"is {value.Length} characters long; Flashduty takes at most {MaxValueLength}");
    }

    private static InvalidEventException Invalid(EventKind kind, string? host, string? eventId, string field, string problem) =>
        new($"{kind}{(string.IsNullOrEmpty(host) ? "" : $" of host '{Truncate(host)}'")}{(eventId is null ? "" : $" (eventId {eventId})")}: field '{field}' {problem}");

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "…";
}

/// <summary>An event that can never be applied; its message names the event and the field.</summary>
public sealed class InvalidEventException(string message) : Exception(message);
