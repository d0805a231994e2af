using FlashdutySync.Sync;

namespace FlashdutySync.Check;

/// <summary>
/// Which event fields, <c>labels</c> entries or constants fill a schema's label under its <see cref="LabelMapping"/>
/// (by name by default, as <see cref="EventTranslator"/> maps them: host from every event, owner from HostProvisioned
/// and OwnerChanged, team and service from HostProvisioned; any other label only from an event's <c>labels</c>
/// object). An event reaches a row only when it carries every source label. The <c>check</c> verb prints it; the
/// service checks the mapping with it (<see cref="Fit"/>) when it reads the schema, and refuses to start on errors.
/// </summary>
internal static class LabelSources
{
    /// <summary>The labels each event's own fields set (its <c>labels</c> object aside). LabelSourcesTests holds it to EventTranslator.</summary>
    internal static IReadOnlyList<(EventKind Kind, IReadOnlyList<string> Labels)> Fields => EventFields.ByEvent;

    public static LabelFill Describe(string label, IReadOnlyList<string> sourceLabels) => Describe(label, sourceLabels, LabelMapping.ByName);

    /// <summary>
    /// What fills <paramref name="label"/> in a schema keyed by <paramref name="sourceLabels"/>, e.g.
    /// <c>HostProvisioned.owner, OwnerChanged.owner</c>; <see cref="LabelFill.ByFields"/> is false when no event field
    /// does, only an event's <c>labels</c> object.
    /// </summary>
    public static LabelFill Describe(string label, IReadOnlyList<string> sourceLabels, LabelMapping mapping)
    {
        var source = mapping.SourceOf(label);
        if (source.Kind == LabelSourceKind.Constant)
            return new LabelFill($"'{source.Name}' (constant, {mapping.ConfigPath}:Constants:{label})", ByFields: true) { Configured = true };
        var feeding = EventFields.ByEvent.Where(f => mapping.Feeds(f.Kind)).ToList();
        var carrying = feeding.Where(f => ByField(f.Kind, label, mapping)).ToList();
        if (carrying.Count == 0) return ByLabelsOnly(label, source, feeding);

        var field = source.FieldName!;
        var named = field == label ? "" : $"{field} of ";
        if (carrying.Count == feeding.Count && sourceLabels.All(s => feeding.All(f => ByField(f.Kind, s, mapping))))
            return new LabelFill(named + (feeding.Count == EventFields.ByEvent.Count ? "every event" : string.Join(", ", feeding.Select(f => f.Kind))), ByFields: true);

        // A decommission deletes rows; it fills nothing but the host it names.
        var filling = carrying.Where(f => f.Kind != EventKind.HostDecommissioned || carrying.Count == 1).ToList();
        var parts = new List<string>();
        var reaching = string.Join(", ", filling.Where(f => sourceLabels.All(s => ByField(f.Kind, s, mapping))).Select(f => $"{f.Kind}.{field}"));
        if (reaching.Length > 0) parts.Add(reaching);
        // The others reach a row only when their labels carry the source labels they lack (never, where the mapping names a field).
        parts.AddRange(filling.Where(f => !sourceLabels.All(s => ByField(f.Kind, s, mapping)))
            .Select(f => (f.Kind, Missing: sourceLabels.Where(s => !ByField(f.Kind, s, mapping)).Select(s => mapping.SourceOf(s).LabelsEntry).ToList()))
            .Where(f => f.Missing.All(m => m is not null))
            .GroupBy(f => string.Join(", ", f.Missing.Select(m => LabelSource.LabelsPrefix + m)))
            .Select(g => $"{string.Join(", ", g.Select(f => $"{f.Kind}.{field}"))} only with {g.Key}"));
        return parts.Count > 0
            ? new LabelFill(string.Join("; ", parts), ByFields: true)
            : new LabelFill($"nothing: {string.Join(", ", filling.Select(f => $"{f.Kind}.{field}"))} never carries every source label", ByFields: false) { Unfillable = true };
    }

    /// <summary>Whether the event's own fields (or a constant) give the label a value.</summary>
    private static bool ByField(EventKind kind, string label, LabelMapping mapping)
    {
        var source = mapping.SourceOf(label);
        return source.Kind == LabelSourceKind.Constant || (source.FieldName is { } field && EventFields.Of(kind).Contains(field));
    }

    private static LabelFill ByLabelsOnly(string label, LabelSource source, List<(EventKind Kind, IReadOnlyList<string> Fields)> feeding)
    {
        var withLabels = feeding.Where(f => EventFields.CarriesLabels(f.Kind)).Select(f => f.Kind.ToString()).ToList();
        var events = string.Join(", ", feeding.Select(f => f.Kind));
        return source.Kind switch
        {
            LabelSourceKind.Field => new LabelFill($"nothing: the field {source.Name} is carried by none of the events feeding the schema ({events})", ByFields: false) { Unfillable = true },
            _ when withLabels.Count == 0 => new LabelFill($"nothing: only {LabelSource.LabelsPrefix}{source.LabelsEntry} could, and the events feeding the schema ({events}) carry no labels",
                ByFields: false) { Unfillable = true },
            LabelSourceKind.Label => new LabelFill($"{LabelSource.LabelsPrefix}{source.Name} of {string.Join(", ", withLabels)}", ByFields: false) { Configured = true },
            _ => new LabelFill($"only {LabelSource.LabelsPrefix}{label} of an event", ByFields: false),
        };
    }

    /// <summary>
    /// The mapping against the schema's labels (from <c>schema/info</c>): errors (a configured label the schema lacks,
    /// a label nothing can fill) and warnings (a label only an unconfigured <c>labels</c> entry fills; a schema that
    /// decommissions never reach), each naming the schema id and the label.
    /// </summary>
    public static (List<string> Errors, List<string> Warnings) Fit(string schemaId, LabelMapping mapping, IReadOnlyList<string> sourceLabels,
        IReadOnlyList<string> resultLabels, TimeSpan maxIncompleteWait, string waitQueue = "the wait queue", string errorQueue = "the error queue")
    {
        var errors = new List<string>();
        var warnings = new List<string>();
        var labels = sourceLabels.Concat(resultLabels).ToList();
        foreach (var (label, source) in mapping.Configured.Where(c => !labels.Contains(c.Key)))
        {
            errors.Add($"{mapping.ConfigPath}:{(source.Kind == LabelSourceKind.Constant ? "Constants" : "Labels")}:{label}: schema {schemaId} has no label '{label}' " +
                       $"(its labels: {string.Join(", ", labels)}); name one of them");
        }

        foreach (var label in labels)
        {
            var fill = Describe(label, sourceLabels, mapping);
            if (fill.Unfillable)
                errors.Add($"schema {schemaId}: label '{label}' can be filled by nothing ({fill.Text}); map it in {mapping.ConfigPath} to a field or labels entry that the events feeding it carry, or add it to Constants");
            else if (fill.Warn)
                warnings.Add($"schema {schemaId}: label '{label}' is filled by no event field, only by labels.{label} of a HostProvisioned or OwnerChanged: a new row is complete only if publishers send it. " +
                             $"Rows missing it wait in {waitQueue} and are set aside to {errorQueue} after Sync:MaxIncompleteWait ({maxIncompleteWait}); or map it in Flashduty:Schemas");
        }

        if (mapping.HostLabel(sourceLabels) is null)
        {
            warnings.Add(mapping.Feeds(EventKind.HostDecommissioned)
                ? $"schema {schemaId}: no source label is filled by the host, and HostDecommissioned carries only the host: decommissions never reach this schema (its rows stay; drift repair writes back a row an event set that is deleted in Flashduty)"
                : $"schema {schemaId}: HostDecommissioned does not feed it ({mapping.ConfigPath}:Events): decommissions leave its rows alone");
        }

        return (errors, warnings);
    }
}
