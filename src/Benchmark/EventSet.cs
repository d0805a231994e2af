using Inventory.Contracts;

namespace Benchmark;

/// <summary>A reproducible set of events and the rows they must lead to (computed here, independently of the service).</summary>
public sealed class EventSet
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    public List<(string Exchange, object Body)> Events { get; } = [];
    public Dictionary<string, Dictionary<string, (string Value, DateTimeOffset At)>> Hosts { get; } = [];
    public Dictionary<string, Dictionary<string, (string Value, DateTimeOffset At)>> Services { get; } = [];

    /// <summary>Each host provisioned once, then owner changes spread over random hosts (out of time order).</summary>
    public static EventSet Burst(int events, int hosts, int seed)
    {
        var set = new EventSet();
        var random = new Random(seed);
        for (var i = 0; i < Math.Min(hosts, events); i++)
        {
            var at = T0.AddMilliseconds(i);
            set.Add(InventoryExchanges.HostProvisioned, $"h{i:00000}", $"owner-{i % 97}", $"team-{i % 13}", $"svc-{i % 50}", at);
        }

        for (var n = hosts; n < events; n++)
        {
            var at = T0.AddSeconds(60 + random.Next(10_000_000) / 1000.0);
            set.Add(InventoryExchanges.OwnerChanged, $"h{random.Next(hosts):00000}", $"owner-{random.Next(500)}", null, null, at);
        }

        return set;
    }

    public void Add(string exchange, string host, string owner, string? team, string? service, DateTimeOffset at)
    {
        object body = exchange == InventoryExchanges.OwnerChanged
            ? new { host, owner, occurredAt = at }
            : new { host, owner, team, service, occurredAt = at };
        Events.Add((exchange, body));
        Apply(Hosts, host, at, ("host", host), ("owner", owner), ("team", team), ("service", service));
        if (service is not null) Apply(Services, service, at, ("service", service), ("owner", owner), ("team", team));
    }

    private static void Apply(Dictionary<string, Dictionary<string, (string, DateTimeOffset)>> rows, string key, DateTimeOffset at, params (string Label, string? Value)[] labels)
    {
        var row = rows.TryGetValue(key, out var r) ? r : rows[key] = [];
        foreach (var (label, value) in labels)
        {
            if (value is null) continue;
            if (!row.TryGetValue(label, out var current) || at >= current.Item2) row[label] = (value, at);
        }
    }

    public static Dictionary<string, Dictionary<string, string>> Complete(Dictionary<string, Dictionary<string, (string Value, DateTimeOffset At)>> rows, params string[] labels) =>
        rows.Where(r => labels.All(r.Value.ContainsKey)).ToDictionary(r => r.Key, r => labels.ToDictionary(l => l, l => r.Value[l].Value));

    /// <summary>The fewest requests that can write these events: ceil(distinct keys / 1,000) per schema.</summary>
    public long LowerBound => (long)(Math.Ceiling(DistinctKeys("host") / 1000.0) + Math.Ceiling(DistinctKeys("service") / 1000.0));

    public int DistinctKeys(string schema) => schema == "host" ? Hosts.Count : Services.Count;
}
