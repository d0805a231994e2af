using System.Collections.Concurrent;

namespace Flashduty.Simulator;

/// <summary>What the simulator saw: the counters tests and the benchmark read.</summary>
public sealed class SimStats(int recentCapacity)
{
    private readonly ConcurrentDictionary<(string Endpoint, string Schema, int Status), long> _requests = new();
    private readonly ConcurrentDictionary<string, long> _throttled = new();
    private readonly ConcurrentDictionary<string, long> _docs = new();
    private readonly Queue<RecentRequest> _recent = new();

    /// <summary>Causes of a 429 (a schema-lock refusal counts under <see cref="SchemaLock"/> whatever status its reading gives it).</summary>
    public static class Causes
    {
        public const string AccountRate = "account_rate";
        public const string SchemaLock = "schema_lock";
        public const string Injected = "injected";
    }

    public void Record(RecentRequest request)
    {
        _requests.AddOrUpdate((request.Endpoint, request.SchemaId ?? "", request.Status), 1, (_, n) => n + 1);
        if (request.Status is >= 200 and < 300 && request.Count > 0)
        {
            _docs.AddOrUpdate(request.Endpoint, request.Count, (_, n) => n + request.Count);
        }

        lock (_recent)
        {
            _recent.Enqueue(request);
            while (_recent.Count > recentCapacity) _recent.Dequeue();
        }
    }

    private long _unchanged;

    /// <summary>Rows an accepted upsert wrote with exactly the values already stored (re-applied work).</summary>
    public long UnchangedRows => Interlocked.Read(ref _unchanged);

    public void Unchanged(int rows) => Interlocked.Add(ref _unchanged, rows);

    public void Throttled(string cause) => _throttled.AddOrUpdate(cause, 1, (_, n) => n + 1);

    /// <summary>Requests that reached an endpoint, whatever their answer; filter by endpoint (e.g. <c>data/upsert</c>) and status.</summary>
    public long Requests(string? endpoint = null, int? status = null, string? schemaId = null) =>
        _requests.Where(kv => (endpoint is null || kv.Key.Endpoint == endpoint) &&
                              (status is null || kv.Key.Status == status) &&
                              (schemaId is null || kv.Key.Schema == schemaId))
                 .Sum(kv => kv.Value);

    public long ThrottledBy(string cause) => _throttled.GetValueOrDefault(cause);

    /// <summary>Every refusal for pacing: the 429s, and the 423s of schema-lock refusals under <see cref="LockConflict.Locked423"/>.</summary>
    public long Total429 => _throttled.Values.Sum();

    public IReadOnlyList<RecentRequest> Recent()
    {
        lock (_recent) { return _recent.ToList(); }
    }

    public object ToJson() => new
    {
        requests = _requests.OrderBy(kv => kv.Key.Endpoint).ThenBy(kv => kv.Key.Schema).ThenBy(kv => kv.Key.Status)
            .Select(kv => new { endpoint = kv.Key.Endpoint, schema_id = kv.Key.Schema, status = kv.Key.Status, count = kv.Value }),
        throttled = _throttled.ToDictionary(kv => kv.Key, kv => kv.Value),
        items_accepted = _docs.ToDictionary(kv => kv.Key, kv => kv.Value),
        unchanged_rows = UnchangedRows,
    };

    public void Reset()
    {
        _requests.Clear();
        _throttled.Clear();
        _docs.Clear();
        Interlocked.Exchange(ref _unchanged, 0);
        lock (_recent) { _recent.Clear(); }
    }
}

/// <summary>One request as the simulator answered it. <see cref="Count"/> is docs or keys carried.</summary>
public sealed record RecentRequest(DateTimeOffset Time, string Endpoint, string? SchemaId, int Count, int Status, string? ErrorCode, string RequestId);
