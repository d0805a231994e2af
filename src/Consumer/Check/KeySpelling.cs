using FlashdutySync.Flashduty;
using FlashdutySync.Sync;

namespace FlashdutySync.Check;

/// <summary>
/// How Flashduty spells a row's key, read from rows of <c>data/list</c>: the one source value, the source values
/// joined by a separator (the reference shows no multi-label example), or something else (opaque).
/// </summary>
internal static class KeySpelling
{
    public const string Opaque = "opaque (neither the source value nor the source values joined by a separator)";

    /// <summary>The spelling of one listed row's key.</summary>
    public static string Of(IReadOnlyList<string> sourceLabels, ListedRow row)
    {
        var values = new List<string>(sourceLabels.Count);
        foreach (var label in sourceLabels)
        {
            if (!row.Fields.TryGetValue(label, out var value)) return Opaque;
            values.Add(value);
        }

        if (values.Count == 1) return row.Key == values[0] ? "the source value" : Opaque;
        var separator = UpsertKeys.Separators.FirstOrDefault(s => row.Key == string.Join(s, values));
        return separator is null ? Opaque : $"the source values joined by {Show(separator)}";
    }

    /// <summary>The spelling every row shares, or each spelling seen when they differ; null without rows.</summary>
    public static string? Of(IReadOnlyList<string> sourceLabels, IReadOnlyList<ListedRow> rows)
    {
        var spellings = rows.Select(r => Of(sourceLabels, r)).Distinct().ToList();
        return spellings.Count switch
        {
            0 => null,
            1 => spellings[0],
            _ => "mixed: " + string.Join("; ", spellings),
        };
    }

    private static string Show(string separator) => separator switch
    {
        "" => "nothing (concatenated)",
        "\u001f" => "U+001F",
        _ => $"'{separator}'",
    };
}
