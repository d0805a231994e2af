using System.Diagnostics;
using FlashdutySync.Flashduty;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Sync;

/// <summary>
/// All configured schemas. Starts before the bus: it reads every schema's labels and rows, and refuses to start
/// when one does not exist. Then runs one single-flight writer per schema.
/// </summary>
public sealed class MappingEngine(IMappingApi api, IOptions<FlashdutyOptions> flashduty, IOptions<SyncOptions> sync, InflowTracker inflow, IStampStore stamps,
    SyncMetrics metrics, ILogger<MappingEngine> logger, TimeProvider time) : IHostedService
{
    private readonly List<SchemaSync> _schemas = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _writers = [];

    /// <summary>True once every schema is loaded.</summary>
    public bool Loaded { get; private set; }

    internal IReadOnlyList<SchemaSync> Schemas => _schemas;

    /// <summary>Why the engine is not ready, or null when it is.</summary>
    public string? NotReadyReason =>
        !Loaded ? "schemas are not loaded yet" : _schemas.Select(s => s.PausedReason is { } r ? $"schema {s.Schema.SchemaId}: {r}" : null).FirstOrDefault(r => r is not null);

    private readonly object _refreshLock = new();
    private Task? _refresh;
    private long _loadedAt;

    /// <summary>
    /// Before the first batch is applied: a replica that waited as a standby reloads every schema's rows and the saved
    /// stamps, which the active replica has changed since this one started. Nothing is applied yet, so the state can
    /// be replaced. Every batch awaits the same reload; a failure is logged and the state read at start is kept.
    /// </summary>
    public Task EnsureCurrentAsync(CancellationToken ct)
    {
        lock (_refreshLock)
        {
            _refresh ??= time.GetElapsedTime(_loadedAt) < sync.Value.StandbyAfter ? Task.CompletedTask : ReloadAsync(ct);
            return _refresh;
        }
    }

    private async Task ReloadAsync(CancellationToken ct)
    {
        try
        {
            var saved = await stamps.LoadAsync(ct);
            foreach (var schema in _schemas) await LoadRowsAsync(schema, saved, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.ReloadFailed(logger, ex.Message);
        }
    }

    /// <summary>Downloads the schema's rows and takes them, with the saved stamps, as what Flashduty holds.</summary>
    private async Task LoadRowsAsync(SchemaSync schema, IReadOnlyDictionary<string, Dictionary<string, RowStamps>> saved, CancellationToken ct)
    {
        var id = schema.Schema.SchemaId;
        var rows = await api.DownloadAsync(id, ct);
        schema.Reload(rows, saved.GetValueOrDefault(id));
        Log.SchemaLoaded(logger, id, rows.Count, string.Join(",", schema.Schema.SourceLabels), string.Join(",", schema.Schema.ResultLabels));
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = flashduty.Value;
        var saved = await stamps.LoadAsync(cancellationToken);
        foreach (var schemaId in options.SchemaIds)
        {
            var info = await api.GetSchemaInfoAsync(schemaId, cancellationToken)
                       ?? throw new InvalidOperationException($"Flashduty has no mapping schema {schemaId} (configured in Flashduty:SchemaIds); create it or fix the id");
            var cap = options.RowCaps.GetValueOrDefault(schemaId, options.DefaultRowCap);
            var schema = new SchemaDefinition(schemaId, info.SchemaName, info.SourceLabels, info.ResultLabels, cap);
            var state = new SchemaSync(schema, api, sync.Value, inflow, stamps, metrics, logger, time);
            await LoadRowsAsync(state, saved, cancellationToken);
            _schemas.Add(state);
        }

        metrics.ObserveSchemas(() => _schemas.Select(s => (s.Schema.SchemaId, s.PendingKeys, s.ProjectedRows, s.Schema.RowCap)));
        foreach (var schema in _schemas) _writers.Add(RunWriterAsync(schema));
        _loadedAt = time.GetTimestamp();
        Loaded = true;
    }

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
        var outcomes = new List<(string, Task<KeyOutcome>)>(_schemas.Count);
        foreach (var schema in _schemas)
        {
            if (schema.Apply(e, batch) is { } outcome) outcomes.Add((schema.Schema.SchemaId, outcome));
        }

        return outcomes;
    }

    /// <summary>Finishes the writes in flight, starts no other, and gives unsettled events back (see <see cref="SchemaSync.QuiesceAsync"/>).</summary>
    public Task QuiesceAsync(CancellationToken cancellationToken) => Task.WhenAll(_schemas.Select(s => s.QuiesceAsync(cancellationToken)));

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_writers).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
