namespace FlashdutySync.Sync;

/// <summary>
/// An inventory event reduced to what the sync needs: the labels it sets by name (or the host it deletes) and when.
/// <see cref="Labels"/> is today's by-name view (the event's <c>labels</c> object, its own fields over same-named
/// entries); <see cref="Fields"/> and <see cref="Extra"/> keep the two apart for a schema's <see cref="LabelMapping"/>.
/// </summary>
public sealed record InventoryEvent(EventKind Kind, IReadOnlyDictionary<string, string> Labels, DateTimeOffset OccurredAt, string? EventId)
{
    /// <summary>The event's own fields that are set (<c>host</c>, <c>owner</c>, <c>team</c>, <c>service</c>); default: <see cref="Labels"/>.</summary>
    public IReadOnlyDictionary<string, string> Fields { get; init; } = Labels;

    /// <summary>The event's <c>labels</c> object (empty values dropped); default: <see cref="Labels"/>.</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = Labels;

    /// <summary>The host the event names.</summary>
    public string? Host => Fields.TryGetValue(EventFields.Host, out var h) ? h : null;

    /// <summary>How error reasons name the event.</summary>
    public string Describe() =>
        $"{Kind} of host '{Host ?? "?"}'{(EventId is null ? "" : $" (eventId {EventId})")}";
}

public enum EventKind
{
    HostProvisioned,
    OwnerChanged,
    HostDecommissioned,
}
