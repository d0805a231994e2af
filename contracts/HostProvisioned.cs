namespace Inventory.Contracts;

/// <summary>A host came into the inventory, or its attributes were restated.</summary>
public sealed record HostProvisioned
{
    /// <summary>The host name; the key of most mapping schemas. Required.</summary>
    public required string Host { get; init; }

    /// <summary>The owner of the host, if known.</summary>
    public string? Owner { get; init; }

    /// <summary>The team the host belongs to, if known.</summary>
    public string? Team { get; init; }

    /// <summary>The service the host runs, if known.</summary>
    public string? Service { get; init; }

    /// <summary>Extra labels (label name → value); names match <c>^[a-z][a-z0-9_]{0,39}$</c>.</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    /// <summary>When the change happened at its source (RFC 3339). Required: it orders competing changes.</summary>
    public required DateTimeOffset OccurredAt { get; init; }

    /// <summary>An optional id the publisher gives the event, quoted in error reasons.</summary>
    public string? EventId { get; init; }
}
