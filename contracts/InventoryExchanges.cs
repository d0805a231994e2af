namespace Inventory.Contracts;

/// <summary>
/// The durable fanout exchanges the events are published to. These names are the wire contract:
/// they never change. MassTransit publishers map each contract type to its exchange with
/// <c>cfg.Message&lt;HostProvisioned&gt;(m =&gt; m.SetEntityName(InventoryExchanges.HostProvisioned))</c>.
/// </summary>
public static class InventoryExchanges
{
    /// <summary>Exchange of <see cref="Contracts.HostProvisioned"/>.</summary>
    public const string HostProvisioned = "inventory.host-provisioned";

    /// <summary>Exchange of <see cref="Contracts.OwnerChanged"/>.</summary>
    public const string OwnerChanged = "inventory.owner-changed";

    /// <summary>Exchange of <see cref="Contracts.HostDecommissioned"/>.</summary>
    public const string HostDecommissioned = "inventory.host-decommissioned";

    /// <summary>Every exchange with the contract type published on it.</summary>
    public static IReadOnlyList<(string Exchange, Type MessageType)> All { get; } =
    [
        (HostProvisioned, typeof(HostProvisioned)),
        (OwnerChanged, typeof(OwnerChanged)),
        (HostDecommissioned, typeof(HostDecommissioned)),
    ];
}
