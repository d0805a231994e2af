namespace FlashdutySync.Sync;

/// <summary>What fills one schema label: by name (no mapping), an event field, an entry of the event's <c>labels</c>, or a constant.</summary>
public readonly record struct LabelSource(LabelSourceKind Kind, string Name)
{
    public const string LabelsPrefix = "labels.";

    /// <summary>The event field this source reads, if any (by name: the field of the label's name, where an event has one).</summary>
    public string? FieldName => Kind is LabelSourceKind.Field or LabelSourceKind.ByName ? Name : null;

    /// <summary>The entry of an event's <c>labels</c> this source reads, if any (by name: the label's own name, as a fallback).</summary>
    public string? LabelsEntry => Kind is LabelSourceKind.Label or LabelSourceKind.ByName ? Name : null;

    /// <summary>The value this source gives the event, or null when the event does not carry it.</summary>
    public string? ValueIn(InventoryEvent e) => Kind switch
    {
        LabelSourceKind.Field => e.Fields.GetValueOrDefault(Name),
        LabelSourceKind.Label => e.Extra.GetValueOrDefault(Name),
        LabelSourceKind.Constant => Name,
        _ => e.Labels.GetValueOrDefault(Name),
    };

    public override string ToString() => Kind switch
    {
        LabelSourceKind.Field => Name,
        LabelSourceKind.Label => LabelsPrefix + Name,
        LabelSourceKind.Constant => $"'{Name}' (constant)",
        _ => $"{Name} (by name)",
    };
}

public enum LabelSourceKind
{
    ByName,
    Field,
    Label,
    Constant,
}
