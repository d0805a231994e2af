using FlashdutySync.Sync;

namespace FlashdutySync.Check;

/// <summary>
/// Which fields of the consumed events fill a schema's label, as <see cref="EventTranslator"/> maps them: host from
/// every event, owner from HostProvisioned and OwnerChanged, team and service from HostProvisioned; any other label
/// only from an event's <c>labels</c> object. An event reaches a row only when it carries every source label.
/// </summary>
internal static class LabelSources
{
    /// <summary>The labels each event's own fields set (its <c>labels</c> object aside). LabelSourcesTests holds it to EventTranslator.</summary>
    internal static readonly IReadOnlyList<(EventKind Kind, IReadOnlyList<string> Labels)> Fields =
    [
        (EventKind.HostProvisioned, ["host", "owner", "team", "service"]),
        (EventKind.OwnerChanged, ["host", "owner"]),
        (EventKind.HostDecommissioned, ["host"]),
    ];

    /// <summary>
    /// What fills <paramref name="label"/> in a schema keyed by <paramref name="sourceLabels"/>, e.g.
    /// <c>HostProvisioned.owner, OwnerChanged.owner</c>; <see cref="LabelFill.ByFields"/> is false when no event field
    /// does, only an event's <c>labels</c> object.
    /// </summary>
    public static LabelFill Describe(string label, IReadOnlyList<string> sourceLabels)
    {
        var carrying = Fields.Where(f => f.Labels.Contains(label)).ToList();
        if (carrying.Count == 0) return new LabelFill($"only labels.{label} of an event", ByFields: false);
        if (carrying.Count == Fields.Count && sourceLabels.All(s => Fields.All(f => f.Labels.Contains(s)))) return new LabelFill("every event", ByFields: true);

        // A decommission deletes rows; it fills nothing but the host it names.
        var filling = carrying.Where(f => f.Kind != EventKind.HostDecommissioned || carrying.Count == 1).ToList();
        var reaching = string.Join(", ", filling.Where(f => sourceLabels.All(f.Labels.Contains)).Select(f => $"{f.Kind}.{label}"));
        var parts = reaching.Length == 0 ? new List<string>() : [reaching];
        parts.AddRange(filling.Where(f => !sourceLabels.All(f.Labels.Contains))
            .GroupBy(f => string.Join(", ", sourceLabels.Where(s => !f.Labels.Contains(s)).Select(s => "labels." + s)))
            .Select(g => $"{string.Join(", ", g.Select(f => $"{f.Kind}.{label}"))} only with {g.Key}"));
        var text = string.Join("; ", parts);
        return new LabelFill(text, ByFields: true);
    }
}
