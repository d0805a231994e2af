namespace FlashdutySync.Sync;

/// <summary>A configured mapping schema as Flashduty describes it, with the row cap the service keeps to.</summary>
public sealed record SchemaDefinition(string SchemaId, string Name, IReadOnlyList<string> SourceLabels, IReadOnlyList<string> ResultLabels, int RowCap)
{
    /// <summary>Joins the source values of a row key within the service; no label value may contain it (EventTranslator refuses it).</summary>
    public const char KeySeparator = '\u001f';

    public IEnumerable<string> AllLabels => SourceLabels.Concat(ResultLabels);

    /// <summary>The row key within the service (source values joined by U+001F), or null when the event does not carry every source label.</summary>
    public string? KeyOf(IReadOnlyDictionary<string, string> labels)
    {
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
