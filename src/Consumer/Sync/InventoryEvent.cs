namespace FlashdutySync.Sync;

/// <summary>An inventory event reduced to what the sync needs: the labels it sets (or the host it deletes) and when.</summary>
public sealed record InventoryEvent(EventKind Kind, IReadOnlyDictionary<string, string> Labels, DateTimeOffset OccurredAt, string? EventId)
{
    /// <summary>How error reasons name the event.</summary>
    public string Describe() =>
        $"{Kind} of host '{(Labels.TryGetValue("host", out var h) ? h : "?")}'{(EventId is null ? "" : $" (eventId {EventId})")}";
}

public enum EventKind
{
    HostProvisioned,
    OwnerChanged,
    HostDecommissioned,
}
