using System.Diagnostics;
using FlashdutySync.Flashduty;

namespace FlashdutySync.Tests.Sync;

/// <summary>A Flashduty stand-in for unit tests: records every call, can hold calls open, refuse docs, or fail.</summary>
internal sealed class FakeMappingApi : IMappingApi
{
    private int _inFlight;

    public List<IReadOnlyList<IReadOnlyDictionary<string, string>>> Upserts { get; } = [];
    public List<IReadOnlyList<string>> Deletes { get; } = [];
    public Dictionary<string, IReadOnlyDictionary<string, string>> Rows { get; } = [];
    public int MaxInFlight { get; private set; }

    /// <summary>While set, calls wait for it.</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>A doc for which this returns true makes the whole upsert a 400.</summary>
    public Func<IReadOnlyDictionary<string, string>, bool> Refuses { get; set; } = _ => false;

    /// <summary>Throws this from writes while set.</summary>
    public FlashdutyApiException? Failure { get; set; }

    public bool SchemaExists { get; set; } = true;

    public Task<SchemaInfo?> GetSchemaInfoAsync(string schemaId, CancellationToken ct) =>
        Task.FromResult(SchemaExists ? new SchemaInfo(schemaId, "s", ["host"], ["owner", "team"]) : null);

    public Task<IReadOnlyList<Dictionary<string, string>>> DownloadAsync(string schemaId, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<Dictionary<string, string>>>([]);

    public async Task<(IReadOnlyList<string> Keys, string? RequestId)> UpsertAsync(string schemaId, IReadOnlyList<IReadOnlyDictionary<string, string>> docs,
        IReadOnlyList<ActivityLink> links, CancellationToken ct)
    {
        Upserts.Add(docs);
        await EnterAsync();
        try
        {
            if (Failure is { } failure) throw failure;
            if (docs.Any(Refuses)) throw new FlashdutyApiException("data/upsert", 400, "InvalidParameter", "a doc is refused", "req-bad");
            foreach (var doc in docs) Rows[doc["host"]] = doc;
            return (docs.Select(d => d["host"]).ToList(), $"req-{Upserts.Count}");
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public async Task<string?> DeleteAsync(string schemaId, IReadOnlyList<string> keys, IReadOnlyList<ActivityLink> links, CancellationToken ct)
    {
        await EnterAsync();
        try
        {
            Deletes.Add(keys);
            if (Failure is { } failure) throw failure;
            foreach (var key in keys) Rows.Remove(key);
            return "req-delete";
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public Task<string?> FindKeyAsync(string schemaId, IReadOnlyDictionary<string, string> sourceValues, CancellationToken ct) =>
        Task.FromResult<string?>(sourceValues["host"]);

    private async Task EnterAsync()
    {
        MaxInFlight = Math.Max(MaxInFlight, Interlocked.Increment(ref _inFlight));
        if (Gate is { } gate) await gate.Task;
    }
}
