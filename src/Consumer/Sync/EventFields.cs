namespace FlashdutySync.Sync;

/// <summary>
/// The fields of each event that can fill a schema label (its <c>labels</c> object aside): host from every event,
/// owner from HostProvisioned and OwnerChanged, team and service from HostProvisioned. LabelSourcesTests holds the
/// table to <see cref="EventTranslator"/>.
/// </summary>
public static class EventFields
{
    public const string Host = "host";

    public static IReadOnlyList<(EventKind Kind, IReadOnlyList<string> Fields)> ByEvent { get; } =
    [
        (EventKind.HostProvisioned, [Host, "owner", "team", "service"]),
        (EventKind.OwnerChanged, [Host, "owner"]),
        (EventKind.HostDecommissioned, [Host]),
    ];

    /// <summary>Every field name, for error messages and parsing.</summary>
    public static IReadOnlyList<string> All { get; } = [Host, "owner", "team", "service"];

    public static IReadOnlyList<string> Of(EventKind kind) => ByEvent.First(e => e.Kind == kind).Fields;

    /// <summary>Only these events carry a <c>labels</c> object.</summary>
    public static bool CarriesLabels(EventKind kind) => kind != EventKind.HostDecommissioned;
}
