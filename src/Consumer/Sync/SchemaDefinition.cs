namespace FlashdutySync.Sync;

/// <summary>
/// A configured mapping schema as Flashduty describes it, with the row cap the service keeps to and the mapping that
/// fills its labels from events (by name when none is configured).
/// </summary>
public sealed record SchemaDefinition(string SchemaId, string Name, IReadOnlyList<string> SourceLabels, IReadOnlyList<string> ResultLabels, int RowCap,
    LabelMapping? Mapping = null)
{
    /// <summary>Joins the source values of a row key within the service; no label value may contain it (EventTranslator refuses it).</summary>
    public const char KeySeparator = '\u001f';

    /// <summary>Source labels then result labels (a new list each call: callers on a hot path keep one).</summary>
    public IReadOnlyList<string> AllLabels => [.. SourceLabels, .. ResultLabels];

    public LabelMapping Labels => Mapping ?? LabelMapping.ByName;

    /// <summary>The schema labels the event sets, to which values; null when the event does not feed the schema.</summary>
    public IReadOnlyDictionary<string, string>? LabelsOf(InventoryEvent e) => Labels.LabelsOf(e, AllLabels);

    /// <summary>The source label the event's host fills, where decommissions feed the schema; else null.</summary>
    public string? HostLabel => Labels.HostLabel(SourceLabels);

    /// <summary>The row key within the service (source values joined by U+001F), or null when the labels lack a source label.</summary>
    public string? KeyOf(IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (SourceLabels.Count == 1) return labels.TryGetValue(SourceLabels[0], out var only) ? only : null;
        var parts = new string[SourceLabels.Count];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!labels.TryGetValue(SourceLabels[i], out var part)) return null;
            parts[i] = part;
        }

        return string.Join(KeySeparator, parts);
    }
}
