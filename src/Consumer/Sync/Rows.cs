namespace FlashdutySync.Sync;

internal static class Rows
{
    public static bool Same(IReadOnlyDictionary<string, string>? a, IReadOnlyDictionary<string, string>? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (a.Count != b.Count) return false;
        foreach (var (label, value) in a)
        {
            if (!b.TryGetValue(label, out var other) || !string.Equals(value, other, StringComparison.Ordinal)) return false;
        }

        return true;
    }
}
