using System.Diagnostics;
using FlashdutySync.Flashduty;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Sync;

/// <summary>
/// All configured schemas. Starts before the bus: it reads every schema's labels and rows. A schema that cannot be
/// read (gone, key refused, a download in no known shape) writes nothing, keeps its events waiting, makes the
/// service not ready and is read again every <see cref="SyncOptions.ProbeInterval"/>; the other schemas go on.
/// Then runs one single-flight writer per schema.
/// </summary>
public sealed class MappingEngine(IMappingApi api, IOptions<FlashdutyOptions> flashduty, IOptions<SyncOptions> sync, InflowTracker inflow, IStampStore stamps,
    SyncMetrics metrics, ILogger<MappingEngine> logger, TimeProvider time) : IHostedService
{
    private readonly List<SchemaSlot> _slots = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _writers = [];
    // Longer than a download of a full schema takes; short enough that a compaction stuck on a publish the broker will
    // never confirm (it restarted under it: seen in the fault suite, 90 s without consuming) is tried again soon.
    private static readonly TimeSpan ReloadAttemptLimit = TimeSpan.FromSeconds(20);

    /// <summary>True once every schema was tried once.</summary>
    public bool Loaded { get; private set; }

    internal IReadOnlyList<SchemaSync> Schemas => _slots.Select(s => s.Sync).OfType<SchemaSync>().ToList();

    /// <summary>Why the engine is not ready, or null when it is.</summary>
    public string? NotReadyReason =>
        !Loaded ? "schemas are not loaded yet" : _slots.Select(s => s.LoadProblem is { } p ? $"schema {s.SchemaId} is not loaded: {p}"
            : s.Sync?.PausedReason is { } r ? $"schema {s.SchemaId}: {r}" : null).FirstOrDefault(r => r is not null);

    private readonly object _refreshLock = new();
    private Task? _refresh;

    /// <summary>
    /// Before the first batch is applied — this replica has just become the active consumer — every schema's rows and
    /// the saved stamps are read again: a previous active replica may have changed both since this one started, however
    /// short ago (a rolling deploy; #13 defect 1: guessing "a standby" from the time since start corrupted rows).
    /// Nothing is applied yet, so the state can be replaced. Every batch awaits the same reload, which is tried again
    /// every probe interval until it succeeds: no event is applied against a stale picture.
    /// </summary>
    public Task EnsureCurrentAsync(CancellationToken ct)
    {
        lock (_refreshLock)
        {
            // A reload cut short (cancelled, failed) is tried again by the next batch, not cached as its outcome.
            if (_refresh is { IsCompleted: true, IsCompletedSuccessfully: false }) _refresh = null;
            // Shared by every batch, so not bound to the first batch's token (a broker blip cancels that one).
            _refresh ??= ReloadAsync(_stopping.Token);
            return _refresh.WaitAsync(ct);
        }
    }

    private async Task ReloadAsync(CancellationToken ct)
    {
        var saved = await Retrying(t => stamps.LoadAsync(t), "the saved stamps", ct);
        foreach (var schema in Schemas)
        {
            var id = schema.Schema.SchemaId;
            try
            {
                var rows = await Retrying(t => api.DownloadAsync(id, schema.Schema.AllLabels.ToList(), t), $"schema {id}", ct);
                schema.Reload(rows.Rows, saved.GetValueOrDefault(id));
                LogLoaded(schema.Schema, rows);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Gone, refused, in no known shape: its first write will say so and pause it; the other schemas go on.
                Log.ReloadSkipped(logger, $"schema {id}: {ex.Message}");
            }
        }
    }

    /// <summary>
    /// Tries again every probe interval while the failure is a passing one (Flashduty down, the broker away). Each try
    /// has a time limit: a read stuck on a connection the broker dropped must not hold every batch for ever.
    /// </summary>
    private async Task<T> Retrying<T>(Func<CancellationToken, Task<T>> read, string what, CancellationToken ct)
    {
        while (true)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            attempt.CancelAfter(ReloadAttemptLimit);
            try
            {
                return await read(attempt.Token);
            }
            catch (Exception ex) when ((ex is OperationCanceledException && !ct.IsCancellationRequested) ||
                                       (ex is not OperationCanceledException && ex is not DownloadFormatException && (ex is not FlashdutyApiException api || api.IsTransient)))
            {
                Log.ReloadFailed(logger, $"{what}: {ex.Message}", sync.Value.ProbeInterval);
                await Task.Delay(sync.Value.ProbeInterval, time, ct);
            }
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var saved = await stamps.LoadAsync(cancellationToken);
        foreach (var schemaId in flashduty.Value.SchemaIds)
        {
            var slot = new SchemaSlot(schemaId);
            _slots.Add(slot);
            if (await TryLoadAsync(slot, saved, cancellationToken)) continue;
            lock (_writers) _writers.Add(Task.Run(() => KeepLoadingAsync(slot, _stopping.Token), CancellationToken.None));
        }

        metrics.ObserveSchemas(() => Schemas.Select(s => (s.Schema.SchemaId, s.PendingKeys, s.ProjectedRows, s.Schema.RowCap)));
        Loaded = true;
    }

    /// <summary>Reads the schema's labels and rows; on success starts its writer. False, logged, when it cannot.</summary>
    private async Task<bool> TryLoadAsync(SchemaSlot slot, IReadOnlyDictionary<string, Dictionary<string, RowStamps>>? saved, CancellationToken ct)
    {
        var options = flashduty.Value;
        try
        {
            var info = await api.GetSchemaInfoAsync(slot.SchemaId, ct);
            if (info is null)
            {
                return NotLoaded(slot, $"Flashduty has no mapping schema {slot.SchemaId} (configured in Flashduty:SchemaIds): create it or fix the id");
            }

            if (info.SourceLabels is not { Count: >= 1 and <= 3 } || info.ResultLabels is not { Count: >= 1 })
            {
                return NotLoaded(slot, $"schema/info describes schema {slot.SchemaId} with source labels [{string.Join(",", info.SourceLabels ?? [])}] and " +
                                       $"result labels [{string.Join(",", info.ResultLabels ?? [])}]; a schema has 1–3 source labels and at least one result label");
            }

            var cap = options.RowCaps.GetValueOrDefault(slot.SchemaId, options.DefaultRowCap);
            var schema = new SchemaDefinition(slot.SchemaId, info.SchemaName, info.SourceLabels, info.ResultLabels, cap);
            var rows = await api.DownloadAsync(slot.SchemaId, schema.AllLabels.ToList(), ct);
            saved ??= await stamps.LoadAsync(ct);
            var state = new SchemaSync(schema, api, sync.Value, inflow, stamps, metrics, logger, time);
            state.Load(rows.Rows, saved.GetValueOrDefault(slot.SchemaId));
            LogLoaded(schema, rows);
            // Loaded while the service stops: no writer (another replica may be taking over).
            if (!slot.Loaded(state)) return true;
            lock (_writers) _writers.Add(RunWriterAsync(state));
            return true;
        }
        catch (FlashdutyApiException ex)
        {
            return NotLoaded(slot, FlashdutyErrors.OperatorAction(ex.Kind, ex.Code) is { } action ? $"{action} (request_id {ex.RequestId})" : ex.Message);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // A download in no known shape, an answer that does not parse: this schema waits, the others go on.
            return NotLoaded(slot, ex.Message);
        }
    }

    private bool NotLoaded(SchemaSlot slot, string problem)
    {
        if (slot.LoadProblem != problem) Log.LoadFailed(logger, slot.SchemaId, problem, sync.Value.ProbeInterval);
        slot.LoadProblem = problem;
        return false;
    }

    private async Task KeepLoadingAsync(SchemaSlot slot, CancellationToken ct)
    {
        try
        {
            do await Task.Delay(sync.Value.ProbeInterval, time, ct);
            while (!await TryLoadAsync(slot, null, ct));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private void LogLoaded(SchemaDefinition schema, SchemaRows rows) =>
        Log.SchemaLoaded(logger, schema.SchemaId, rows.Rows.Count, rows.Format, string.Join(",", schema.SourceLabels), string.Join(",", schema.ResultLabels));

    private async Task RunWriterAsync(SchemaSync schema)
    {
        try
        {
            await Task.Run(() => schema.RunAsync(_stopping.Token));
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>Applies an event to every schema it feeds. Each task completes when its row is settled.</summary>
    public IReadOnlyList<(string SchemaId, Task<KeyOutcome> Outcome)> Apply(InventoryEvent e, ActivityContext batch)
    {
        var outcomes = new List<(string, Task<KeyOutcome>)>(_slots.Count);
        foreach (var slot in _slots)
        {
            if (slot.Apply(e, batch) is { } outcome) outcomes.Add((slot.SchemaId, outcome));
        }

        return outcomes;
    }

    /// <summary>Finishes the writes in flight, starts no other, and gives unsettled events back (see <see cref="SchemaSync.QuiesceAsync"/>).</summary>
    public Task QuiesceAsync(CancellationToken cancellationToken)
    {
        foreach (var slot in _slots) slot.Release();
        return Task.WhenAll(Schemas.Select(s => s.QuiesceAsync(cancellationToken)));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        Task[] writers;
        lock (_writers) writers = [.. _writers];
        await Task.WhenAll(writers).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
