using System.Diagnostics;
using FlashdutySync.Flashduty;
using FlashdutySync.Telemetry;
using Microsoft.Extensions.Options;

namespace FlashdutySync.Sync;

/// <summary>
/// All configured schemas, and this replica's lifecycle as their writer: standby → activating → active →
/// quiescing. At start (before the bus) every schema's labels and rows are read, to say early what cannot be read.
/// The first batch delivered — RabbitMQ made this replica the single active consumer — activates a term (see
/// <see cref="ReplicaTerm"/>): the journal is acquired (the fence), read, Flashduty's rows are read again, and each
/// schema starts from both. The term ends when the service stops (quiescing: writes in flight finish, the journal
/// is released cleanly) or when the journal's lock is lost (demoted: writes aborted at once, memory dropped).
/// </summary>
public sealed partial class MappingEngine(IMappingApi api, IOptions<FlashdutyOptions> flashduty, IOptions<SyncOptions> sync, InflowTracker inflow, IRowJournal journal,
    IRefusedEvents refused, SyncMetrics metrics, ILogger<MappingEngine> logger, TimeProvider time) : IHostedService
{
    private readonly List<SchemaSlot> _slots = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _probes = [];
    // Longer than a download of a full schema takes; short enough that a read stuck on a dropped connection is tried again soon.
    private static readonly TimeSpan ReadAttemptLimit = TimeSpan.FromSeconds(20);
    private readonly object _termLock = new();
    private Task<ReplicaTerm>? _activating;
    private ReplicaTerm? _term;

    /// <summary>True once every schema was tried once.</summary>
    public bool Loaded { get; private set; }

    /// <summary>The service is stopping: events are given back, not applied.</summary>
    public bool Stopping => _stopping.IsCancellationRequested;

    internal IReadOnlyList<SchemaSync> Schemas => _slots.Select(s => s.Sync).OfType<SchemaSync>().ToList();

    /// <summary>Why the engine is not ready, or null when it is.</summary>
    public string? NotReadyReason =>
        !Loaded ? "schemas are not loaded yet"
        : JournalProblem() ?? _slots.Select(s => s.LoadProblem is { } p ? $"schema {s.SchemaId} is not loaded: {p}"
            : s.Sync?.PausedReason is { } r ? $"schema {s.SchemaId}: {r}" : null).FirstOrDefault(r => r is not null);

    // A blip (a broker restart) costs a round or two; longer, every batch waits with its events unacknowledged.
    private static readonly TimeSpan JournalFailingFor = TimeSpan.FromSeconds(10);

    private string? JournalProblem() =>
        CurrentTerm()?.Committer?.Failing is { } failing && time.GetUtcNow() - failing.Since >= JournalFailingFor
            ? $"the row journal cannot be appended to since {failing.Since:u} ({failing.Problem}): events stay unacknowledged until it can"
            : null;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var misfits = new List<string>();
        foreach (var (schemaId, mapping) in flashduty.Value.ConfiguredSchemas()) _slots.Add(new SchemaSlot(schemaId, mapping));
        // All read at once: the account limiter paces them (one after the other, 20 schemas took 1.3 s at 30 ms a call).
        var loaded = await Task.WhenAll(_slots.Select(slot => TryLoadAtStartAsync(slot, cancellationToken)));
        foreach (var (slot, ok) in _slots.Zip(loaded))
        {
            if (ok) continue;
            if (slot.MappingProblem is { } misfit) misfits.Add(misfit);
            StartProbe(slot);
        }

        // A mapping that does not fit its schema is a configuration mistake: the start is refused, naming it, as for
        // any invalid setting. (Found later, when Flashduty was down at start, it leaves the schema not loaded.)
        if (misfits.Count > 0)
        {
            await _stopping.CancelAsync();
            throw new OptionsValidationException(FlashdutyOptions.SectionName, typeof(FlashdutyOptions), misfits);
        }

        metrics.ObserveSchemas(() => Schemas.Select(s => (s.Schema.SchemaId, s.PendingKeys, s.ProjectedRows, s.Schema.RowCap)));
        // Only the holder reports whether a schema writes: a standby writes nothing anyway, and one that could not read a
        // schema at its start (Flashduty down then, a new pod's refused key) would page for a deployment whose holder writes.
        metrics.ObserveReplica(() => CurrentTerm() is { Closing: false },
            () => CurrentTerm() is { Closing: false } ? _slots.Select(s => (s.SchemaId, s.LoadProblem is not null || s.Sync?.PausedReason is not null)) : []);
        Loaded = true;
    }

    /// <summary>
    /// The first read, within <see cref="SyncOptions.StartReadTimeout"/>: the health port (and the startup probe with it)
    /// answers only once every hosted service has started, and this read is only to say early what cannot be read.
    /// </summary>
    private async Task<bool> TryLoadAtStartAsync(SchemaSlot slot, CancellationToken ct)
    {
        var limit = sync.Value.StartReadTimeout;
        using var scope = CancellationTokenSource.CreateLinkedTokenSource(ct);
        scope.CancelAfter(limit);
        try
        {
            return await TryLoadAsync(slot, null, scope.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return NotLoaded(slot, $"Flashduty did not answer its schema/info and data/download within Sync:StartReadTimeout ({limit}) at start");
        }
    }

    /// <summary>
    /// Tries again every probe interval while the failure is a passing one (Flashduty down, the broker away). Each try
    /// has a time limit: a read stuck on a connection the broker dropped must not hold every batch for ever.
    /// </summary>
    private async Task<T> Retrying<T>(Func<CancellationToken, Task<T>> read, string what, CancellationToken ct, bool limited = true, TimeSpan? every = null)
    {
        while (true)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
            if (limited) attempt.CancelAfter(ReadAttemptLimit);
            try
            {
                return await read(attempt.Token);
            }
            catch (Exception ex) when ((ex is OperationCanceledException && !ct.IsCancellationRequested) ||
                                       (ex is not OperationCanceledException && ex is not DownloadFormatException && (ex is not FlashdutyApiException api || api.IsTransient)))
            {
                Log.ReloadFailed(logger, $"{what}: {ex.Message}", every ?? sync.Value.ProbeInterval);
                await Task.Delay(every ?? sync.Value.ProbeInterval, time, ct);
            }
        }
    }

    /// <summary>Reads the schema's labels and rows; in a term, starts it there. False, logged, when it cannot.</summary>
    private async Task<bool> TryLoadAsync(SchemaSlot slot, ReplicaTerm? term, CancellationToken ct)
    {
        var options = flashduty.Value;
        try
        {
            // In a term, a passing failure (Flashduty down) is waited out: its events wait unacknowledged rather than
            // cycle through the wait queue. Outside one it is the probe's to try again.
            using var scope = term is null ? null : CancellationTokenSource.CreateLinkedTokenSource(ct, term.Ended);
            if (term is not null && (term.Closing || term.Holds(slot, _termLock))) return true; // closing, or loaded in it already
            var info = term is null ? await api.GetSchemaInfoAsync(slot.SchemaId, ct)
                : await Retrying(t => api.GetSchemaInfoAsync(slot.SchemaId, t), $"schema {slot.SchemaId}", scope!.Token);
            if (info is null)
            {
                var wasThere = slot.Definition is not null;
                slot.Definition = null;
                return NotLoaded(slot, wasThere
                    ? $"schema {slot.SchemaId} no longer exists in Flashduty (schema/info answers that it does not exist): create it again or remove it from Flashduty:SchemaIds"
                    : $"Flashduty has no mapping schema {slot.SchemaId} (configured in Flashduty:SchemaIds): create it or fix the id");
            }

            if (info.SourceLabels is not { Count: >= 1 and <= 3 } || info.ResultLabels is not { Count: >= 1 })
            {
                return NotLoaded(slot, $"schema/info describes schema {slot.SchemaId} with source labels [{string.Join(",", info.SourceLabels ?? [])}] and " +
                                       $"result labels [{string.Join(",", info.ResultLabels ?? [])}]; a schema has 1–3 source labels and at least one result label");
            }

            if (!MappingFits(slot, info)) return false;
            var cap = options.RowCaps.GetValueOrDefault(slot.SchemaId, options.DefaultRowCap);
            var schema = new SchemaDefinition(slot.SchemaId, info.SchemaName, info.SourceLabels, info.ResultLabels, cap, slot.Mapping);
            var rows = term is null ? await api.DownloadAsync(slot.SchemaId, schema.AllLabels.ToList(), ct)
                : await Retrying(t => api.DownloadAsync(slot.SchemaId, schema.AllLabels.ToList(), t), $"schema {slot.SchemaId}", scope!.Token);
            LogLoaded(schema, rows);
            if (term is null)
            {
                // Not active (yet): read to say now whether it can be; the term reads the rows again.
                slot.Definition = schema;
                slot.LoadProblem = null;
                return true;
            }

            var state = new SchemaSync(schema, api, sync.Value, inflow, refused, metrics, logger, time) { NotBefore = term.NotBefore };
            state.Load(rows.Rows, term.Journal.For(slot.SchemaId), term.Journal.For(SchemaSync.TombstonesOf(slot.SchemaId)));
            state.JournalPending = term.Committer!.Ring;
            // What the load marked for the journal (copies settled, decommissions stamped) goes without waiting for a batch.
            if (state.UnjournaledRows > 0) term.Committer.Ring();
            lock (_termLock)
            {
                slot.Definition = schema;
                // The term ended or closes meanwhile, or another load won: the next term reads it.
                if (term.Ended.IsCancellationRequested || term.Closing || term.Holds(slot, _termLock)) return true;
                slot.Sync = state;
                slot.LoadProblem = null;
                term.Schemas.Add(state);
            }

            term.Track(RunWriterAsync(state, term.Ended));
            return true;
        }
        catch (FlashdutyApiException ex)
        {
            return NotLoaded(slot, FlashdutyErrors.OperatorAction(ex.Kind, ex.Code) is { } action ? $"{action} (request_id {ex.RequestId})" : ex.Message);
        }
        catch (OperationCanceledException) when (term is not null && term.Ended.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            return true; // the term ended under the read: the next one reads it
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            // A download in no known shape, an answer that does not parse: this schema waits, the others go on.
            return NotLoaded(slot, ex.Message);
        }
    }

    /// <summary>Checks the slot's mapping against the schema's labels; logs its warnings once. False, not loaded, when it does not fit.</summary>
    private bool MappingFits(SchemaSlot slot, SchemaInfo info)
    {
        var fit = Check.LabelSources.Fit(slot.SchemaId, slot.Mapping, info.SourceLabels, info.ResultLabels, sync.Value.MaxIncompleteWait);
        slot.MappingProblem = fit.Errors.Count == 0 ? null : string.Join("; ", fit.Errors);
        if (slot.MappingProblem is { } problem) return NotLoaded(slot, problem);
        if (slot.MappingReported) return true;
        slot.MappingReported = true;
        if (!slot.Mapping.IsByName) Log.MappingUsed(logger, slot.SchemaId, slot.Mapping.ConfigPath, slot.Mapping.Describe());
        foreach (var warning in fit.Warnings) Log.MappingWarning(logger, warning);
        return true;
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
            while (true)
            {
                await Task.Delay(sync.Value.ProbeInterval, time, ct);
                var term = CurrentTerm();
                if (!await TryLoadAsync(slot, term, ct)) continue;
                // Read while standby, but a term began meanwhile: load it into that term too.
                if (term is null ? CurrentTerm() is null : term.Closing || term.Ended.IsCancellationRequested || term.Holds(slot, _termLock)) break;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            lock (_probes) slot.Probing = false;
        }
    }

    private void LogLoaded(SchemaDefinition schema, SchemaRows rows) =>
        Log.SchemaLoaded(logger, schema.SchemaId, rows.Rows.Count, rows.Format, string.Join(",", schema.SourceLabels), string.Join(",", schema.ResultLabels));

    private static async Task RunWriterAsync(SchemaSync schema, CancellationToken term)
    {
        try
        {
            await Task.Run(() => schema.RunAsync(term));
        }
        catch (OperationCanceledException) when (term.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Applies an event to every schema it feeds, in the current term. A task completed at once is the outcome for the
    /// batch (released, deferred, incomplete, refused at the cap, or nothing to write); one still running completes
    /// when Flashduty answers, long after the event was acknowledged.
    /// </summary>
    public IReadOnlyList<(string SchemaId, Task<KeyOutcome> Outcome)> Apply(InventoryEvent e, ActivityContext batch, EventCopy? copy = null,
        IReadOnlySet<string>? onlySchemas = null, long? inTerm = null)
    {
        var term = CurrentTerm();
        var outcomes = new List<(string, Task<KeyOutcome>)>(_slots.Count);
        foreach (var slot in _slots)
        {
            if (onlySchemas is not null && !onlySchemas.Contains(slot.SchemaId)) continue;
            // Applied and committed in one term (inTerm, from EnsureCurrentAsync): else applied again in the next.
            if (term is null || term.Closing || (inTerm is { } wanted && term.Sequence != wanted))
            {
                outcomes.Add((slot.SchemaId, Task.FromResult(KeyOutcome.Released)));
                continue;
            }

            if (slot.Sync is not { } schema)
            {
                // Not readable yet: parked while its rows are unknown, if it is an event of this schema at all.
                outcomes.Add((slot.SchemaId, Task.FromResult(new KeyOutcome(OutcomeKind.Deferred, $"schema {slot.SchemaId} is not loaded: {slot.LoadProblem}"))));
                continue;
            }

            if (schema.Apply(e, batch, copy) is { } outcome) outcomes.Add((slot.SchemaId, outcome));
        }

        return outcomes;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await ActivationEndedAsync(cancellationToken);
        ReplicaTerm? term;
        lock (_termLock) term = _term;
        Task[] tasks;
        lock (_probes) tasks = [.. _probes, .. term?.Tasks() ?? []];
        if (term is not null) await term.EndAsync();
        await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
