namespace Inventory.Contracts;

/// <summary>The owner of a host changed.</summary>
public sealed record OwnerChanged
{
    /// <summary>The host name. Required.</summary>
    public required string Host { get; init; }

    /// <summary>The new owner. Required.</summary>
    public required string Owner { get; init; }

    /// <summary>The owner before the change, for the record only.</summary>
    public string? PreviousOwner { get; init; }

    /// <summary>Extra labels (label name → value) changed with the owner.</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>When the change happened at its source (RFC 3339). Required.</summary>
    public required DateTimeOffset OccurredAt { get; init; }

    /// <summary>An optional id the publisher gives the event.</summary>
    public string? EventId { get; init; }
}
