using System.Diagnostics;
using FlashdutySync.Flashduty;

namespace FlashdutySync.Tests.Sync;

/// <summary>A Flashduty stand-in for unit tests: records every call, can hold calls open, refuse docs, or fail.</summary>
internal sealed class FakeMappingApi : IMappingApi
{
    private int _inFlight;

    public List<IReadOnlyList<IReadOnlyDictionary<string, string>>> Upserts { get; } = [];
    public List<IReadOnlyList<string>> Deletes { get; } = [];

    /// <summary>Rows by Flashduty's key (see <see cref="Spell"/>).</summary>
    public Dictionary<string, IReadOnlyDictionary<string, string>> Rows { get; } = [];

    public int MaxInFlight { get; private set; }
    public int SchemaInfoCalls { get; private set; }
    public int FindKeyCalls { get; private set; }

    /// <summary>The schema's source labels. Default: <c>host</c>.</summary>
    public IReadOnlyList<string> SourceLabels { get; set; } = ["host"];

    /// <summary>While set, calls wait for it.</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>A doc for which this returns true makes the whole upsert a 400.</summary>
    public Func<IReadOnlyDictionary<string, string>, bool> Refuses { get; set; } = _ => false;

    /// <summary>When it returns an exception for an upsert's docs, that upsert throws it (after <see cref="Refuses"/>).</summary>
    public Func<IReadOnlyList<IReadOnlyDictionary<string, string>>, Exception?> UpsertFails { get; set; } = _ => null;

    /// <summary>Throws this from writes while set.</summary>
    public FlashdutyApiException? Failure { get; set; }

    /// <summary>Throws this from schema/info while set.</summary>
    public FlashdutyApiException? InfoFailure { get; set; }

    public bool SchemaExists { get; set; } = true;

    /// <summary>When set, a delete naming a key it does not hold is refused (400) with this code, deleting nothing.</summary>
    public string? UnknownDeleteCode { get; set; }

    /// <summary>Rows the schema may hold, as Flashduty enforces it. Default: no cap.</summary>
    public int RowCap { get; set; } = int.MaxValue;

    /// <summary>How a key is spelled from the source values joined by ','. Default: as joined.</summary>
    public Func<string, string> Spell { get; set; } = joined => joined;

    public string KeyOf(IReadOnlyDictionary<string, string> doc) => Spell(string.Join(',', SourceLabels.Select(l => doc[l])));

    public Task<SchemaInfo?> GetSchemaInfoAsync(string schemaId, CancellationToken ct)
    {
        SchemaInfoCalls++;
        if (InfoFailure is { } failure) throw failure;
        return Task.FromResult(SchemaExists ? new SchemaInfo(schemaId, "s", SourceLabels, ["owner", "team"]) : null);
    }

    /// <summary>Throws this from downloads while set.</summary>
    public Exception? DownloadFailure { get; set; }

    public int DownloadCalls { get; private set; }

    /// <summary>While set, downloads wait for it (or for their cancellation); <see cref="DownloadWaiting"/> is set once one waits.</summary>
    public TaskCompletionSource? DownloadGate { get; set; }

    public TaskCompletionSource DownloadWaiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>While set, a download cancelled at <see cref="DownloadGate"/> throws only once it is completed; <see cref="DownloadCancelSeen"/> is set first.</summary>
    public TaskCompletionSource? CancelledDownloadGate { get; set; }

    public TaskCompletionSource DownloadCancelSeen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async Task<SchemaRows> DownloadAsync(string schemaId, IReadOnlyCollection<string> labels, CancellationToken ct)
    {
        ++DownloadCalls;
        if (DownloadGate is { } gate)
        {
            DownloadWaiting.TrySetResult();
            try
            {
                await gate.Task.WaitAsync(ct);
            }
            catch (OperationCanceledException) when (CancelledDownloadGate is { } cancelled)
            {
                // A cancellation that takes its time to come through (as a real connection's does).
                DownloadCancelSeen.TrySetResult();
                await cancelled.Task;
                throw;
            }
        }

        if (DownloadFailure is { } failure) throw failure;
        return new SchemaRows(Rows.Values.Select(r => new Dictionary<string, string>(r)).ToList(), "fake");
    }

    public async Task<(IReadOnlyList<string> Keys, string? RequestId)> UpsertAsync(string schemaId, IReadOnlyList<IReadOnlyDictionary<string, string>> docs,
        IReadOnlyList<ActivityLink> links, CancellationToken ct)
    {
        Upserts.Add(docs);
        await EnterAsync(ct);
        try
        {
            if (Failure is { } failure) throw failure;
            if (docs.Any(Refuses)) throw new FlashdutyApiException("data/upsert", 400, "InvalidParameter", "a doc is refused", "req-bad");
            if (UpsertFails(docs) is { } fails) throw fails;
            var added = docs.Select(KeyOf).Distinct().Count(k => !Rows.ContainsKey(k));
            if (Rows.Count + added > RowCap) throw new FlashdutyApiException("data/upsert", 400, "InvalidParameter", $"{added} new rows would pass the cap of {RowCap}", "req-cap");
            foreach (var doc in docs) Rows[KeyOf(doc)] = doc;
            return (docs.Select(KeyOf).Reverse().ToList(), $"req-{Upserts.Count}");
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public async Task<string?> DeleteAsync(string schemaId, IReadOnlyList<string> keys, IReadOnlyList<ActivityLink> links, CancellationToken ct)
    {
        await EnterAsync(ct);
        try
        {
            Deletes.Add(keys);
            if (Failure is { } failure) throw failure;
            if (UnknownDeleteCode is { } code && keys.FirstOrDefault(k => !Rows.ContainsKey(k)) is { } unknown)
                throw new FlashdutyApiException("data/delete", 400, code, $"key {unknown} not found", "req-unknown");
            foreach (var key in keys) Rows.Remove(key);
            return "req-delete";
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public Task<string?> FindKeyAsync(string schemaId, IReadOnlyDictionary<string, string> sourceValues, CancellationToken ct)
    {
        FindKeyCalls++;
        var key = KeyOf(sourceValues);
        return Task.FromResult(Rows.ContainsKey(key) ? key : null);
    }

    public Task<RowPage> ListAsync(string schemaId, IReadOnlyDictionary<string, string>? query, int page, int limit, CancellationToken ct) =>
        Task.FromResult(new RowPage(Rows.Select(r => new ListedRow(r.Key, r.Value)).Skip((page - 1) * limit).Take(limit).ToList(), Rows.Count, Rows.Count > page * limit));

    /// <summary>Calls that were cancelled while held (their request aborted before an answer).</summary>
    public int Aborted { get; private set; }

    private async Task EnterAsync(CancellationToken ct)
    {
        MaxInFlight = Math.Max(MaxInFlight, Interlocked.Increment(ref _inFlight));
        if (Gate is not { } gate) return;
        try
        {
            await gate.Task.WaitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            Aborted++;
            Interlocked.Decrement(ref _inFlight);
            throw;
        }
    }
}
