namespace FlashdutySync.Sync;

/// <summary>
/// Matches <c>data/upsert</c>'s <c>data.keys</c> to the docs sent. The reference promises neither their order nor
/// how a key of 2–3 source values is spelled, so a key is taken only when the answer as a whole proves it: the same
/// count, and the keys, as a set, exactly the docs' source values (one label) or the docs' source values joined by one
/// separator (several). Anything else: the keys are learnt with <c>data/list</c> when a row must be deleted.
/// </summary>
public static class UpsertKeys
{
    /// <summary>The separators a multi-label key may be proven to use, most likely first (<c>check</c> reports by them too).</summary>
    internal static readonly string[] Separators = [",", "|", ":", ";", "_", "-", "/", "#", "\u001f", ""];

    /// <summary>Each doc's key, or null when the answer does not prove them.</summary>
    public static string[]? Match(IReadOnlyList<string> sourceLabels, IReadOnlyList<IReadOnlyDictionary<string, string>> docs, IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(sourceLabels);
        ArgumentNullException.ThrowIfNull(docs);
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count != docs.Count || docs.Count == 0) return null;
        var answered = new HashSet<string>(keys, StringComparer.Ordinal);
        foreach (var separator in sourceLabels.Count == 1 ? [""] : Separators)
        {
            var spelled = docs.Select(d => string.Join(separator, sourceLabels.Select(l => d[l]))).ToArray();
            // Distinct docs only are sent (one per key), so equal sets mean a one-to-one match.
            if (answered.SetEquals(spelled) && answered.Count == spelled.Length) return spelled;
        }

        return null;
    }
}
