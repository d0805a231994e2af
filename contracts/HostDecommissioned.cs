namespace Inventory.Contracts;

/// <summary>A host left the inventory: its mapping rows are deleted.</summary>
public sealed record HostDecommissioned
{
    /// <summary>The host name. Required.</summary>
    public required string Host { get; init; }

    /// <summary>When the host was decommissioned (RFC 3339). Required.</summary>
    public required DateTimeOffset OccurredAt { get; init; }

    /// <summary>An optional id the publisher gives the event.</summary>
    public string? EventId { get; init; }
}
