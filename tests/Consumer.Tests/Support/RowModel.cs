namespace FlashdutySync.Tests.Support;

/// <summary>
/// What one schema's rows must be after a set of events, computed independently of the service: per key and label,
/// the value of the event that occurred last (ties: later arrival); a decommission clears the labels set before it
/// and keeps older events from bringing them back. Only complete rows exist.
/// </summary>
public sealed class RowModel(string source, params string[] results)
{
    private readonly Dictionary<string, Dictionary<string, (string? Value, DateTimeOffset At)>> _keys = new();
    private readonly Dictionary<string, DateTimeOffset> _deleted = new();

    public void Apply(DateTimeOffset at, params (string Label, string? Value)[] labels)
    {
        var named = labels.Where(l => !string.IsNullOrEmpty(l.Value)).ToDictionary(l => l.Label, l => l.Value!);
        if (!named.TryGetValue(source, out var key)) return;
        if (_deleted.TryGetValue(key, out var d) && at < d) return;
        var row = _keys.TryGetValue(key, out var r) ? r : _keys[key] = new();
        foreach (var label in results.Append(source))
        {
            if (!named.TryGetValue(label, out var value)) continue;
            if (!row.TryGetValue(label, out var cur) || at >= cur.At) row[label] = (value, at);
        }
    }

    /// <summary>A decommission of <paramref name="key"/>; only for schemas keyed by host.</summary>
    public void Delete(string key, DateTimeOffset at)
    {
        _deleted[key] = _deleted.TryGetValue(key, out var d) && d > at ? d : at;
        if (!_keys.TryGetValue(key, out var row)) return;
        foreach (var label in row.Where(l => l.Value.At <= at).Select(l => l.Key).ToList()) row[label] = (null, at);
    }

    public Dictionary<string, Dictionary<string, string>> Expected()
    {
        var all = results.Prepend(source).ToList();
        return _keys.Where(k => all.All(l => k.Value.TryGetValue(l, out var v) && v.Value is not null))
            .ToDictionary(k => k.Key, k => all.ToDictionary(l => l, l => k.Value[l].Value!));
    }

    public bool Matches(Dictionary<string, IReadOnlyDictionary<string, string>> actual)
    {
        var expected = Expected();
        return expected.Count == actual.Count && expected.All(e => actual.TryGetValue(e.Key, out var a) && e.Value.Count == a.Count &&
                                                                   e.Value.All(kv => a.TryGetValue(kv.Key, out var v) && v == kv.Value));
    }

    public string Diff(Dictionary<string, IReadOnlyDictionary<string, string>> actual)
    {
        var expected = Expected();
        var missing = expected.Keys.Except(actual.Keys).Take(5);
        var extra = actual.Keys.Except(expected.Keys).Take(5);
        var wrong = expected.Keys.Intersect(actual.Keys).Where(k => !expected[k].All(kv => actual[k].TryGetValue(kv.Key, out var v) && v == kv.Value)).Take(5)
            .Select(k => $"{k}: want {string.Join(",", expected[k].Values)} got {string.Join(",", actual[k].Values)}");
        return $"expected {expected.Count} rows, got {actual.Count}; missing [{string.Join(" ", missing)}] extra [{string.Join(" ", extra)}] wrong [{string.Join("; ", wrong)}]";
    }
}
