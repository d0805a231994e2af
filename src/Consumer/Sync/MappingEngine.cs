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
public sealed class MappingEngine(IMappingApi api, IOptions<FlashdutyOptions> flashduty, IOptions<SyncOptions> sync, InflowTracker inflow, IRowJournal journal,
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
        !Loaded ? "schemas are not loaded yet" : _slots.Select(s => s.LoadProblem is { } p ? $"schema {s.SchemaId} is not loaded: {p}"
            : s.Sync?.PausedReason is { } r ? $"schema {s.SchemaId}: {r}" : null).FirstOrDefault(r => r is not null);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var schemaId in flashduty.Value.SchemaIds)
        {
            var slot = new SchemaSlot(schemaId);
            _slots.Add(slot);
            if (await TryLoadAsync(slot, null, cancellationToken)) continue;
            lock (_probes) _probes.Add(Task.Run(() => KeepLoadingAsync(slot, _stopping.Token), CancellationToken.None));
        }

        metrics.ObserveSchemas(() => Schemas.Select(s => (s.Schema.SchemaId, s.PendingKeys, s.ProjectedRows, s.Schema.RowCap)));
        Loaded = true;
    }

    /// <summary>
    /// Before a batch is applied: this replica holds the journal and its term has started. The first batch of a term
    /// starts it, and every batch awaits the same start, which is tried again every probe interval until it succeeds:
    /// no event is applied against a stale picture (#13 defect 1: a replica that guessed "standby" from the time
    /// since its start corrupted rows on a rolling deploy).
    /// </summary>
    public async Task EnsureCurrentAsync(CancellationToken ct)
    {
        Task activating;
        lock (_termLock)
        {
            if (_term is { Ended.IsCancellationRequested: false, Closing: false }) return;
            // This replica has events in hand: a holder that does not (it took the journal without consuming) is asked to let go.
            journal.HandoverWanted = true;
            activating = Activating();
        }

        await activating.WaitAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Set by the host: the replica takes the journal at start and after losing it, without waiting for an event, so
    /// that rows journaled by a replica that died are written even when no event follows. A replica that took it
    /// without consuming hands it over when the consuming one asks (see <see cref="IRowJournal.HandoverRequested"/>).
    /// </summary>
    public void ActivateWithoutEvents()
    {
        _activateWithoutEvents = true;
        journal.HandoverRequested = () => _ = YieldAsync();
        lock (_termLock) _ = Activating().ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
    }

    private bool _activateWithoutEvents;

    /// <summary>The activation under way, or a new one. Under the term lock.</summary>
    private Task Activating()
    {
        // A start cut short (cancelled, failed) is tried again by the next batch, not cached as its outcome.
        if (_activating is { IsCompleted: true }) _activating = null;
        // Shared by every batch, so not bound to the first batch's token (a broker blip cancels that one).
        return _activating ??= ActivateAsync(_stopping.Token);
    }

    private async Task<ReplicaTerm> ActivateAsync(CancellationToken ct)
    {
        var lease = await Retrying(journal.AcquireAsync, "the row journal's lock", ct);
        var state = await Retrying(journal.LoadAsync, "the row journal", ct);
        var term = new ReplicaTerm(state.Term + 1, state, lease)
        {
            // A holder that did not let go cleanly (killed, cut off) may have one request in flight for this long.
            NotBefore = state.CleanlyReleased ? time.GetUtcNow() : time.GetUtcNow() + flashduty.Value.AttemptTimeout,
        };
        term.Committer = new JournalCommitter(journal, () => _slots.Select(s => s.Sync).OfType<SchemaSync>(), logger, time, sync.Value.ProbeInterval);
        term.Track(Task.Run(() => term.Committer.RunAsync(term.Ended), CancellationToken.None));
        foreach (var slot in _slots)
        {
            if (slot.Definition is null) continue; // its probe loads it into the term once it can be read
            await StartSchemaAsync(slot, term, ct);
        }


        lock (_termLock)
        {
            _term = term;
            journal.HandoverWanted = false;
        }

        // Lost lock: demoted at once, whatever is in hand.
        lease.Register(() => _ = DemoteAsync(term, "the broker closed the journal's lock"));
        Log.Activated(logger, term.Number, state.Schemas.Sum(s => s.Value.Count), state.Schemas.Count,
            state.CleanlyReleased ? "let go cleanly" : $"did not let go cleanly (or there was none): writes wait {flashduty.Value.AttemptTimeout}", term.NotBefore);
        return term;
    }

    /// <summary>Reads the schema's labels and rows again and starts it in the term; else its probe tries again.</summary>
    private async Task StartSchemaAsync(SchemaSlot slot, ReplicaTerm term, CancellationToken ct)
    {
        if (await TryLoadAsync(slot, term, ct)) return;
        lock (_probes) _probes.Add(Task.Run(() => KeepLoadingAsync(slot, _stopping.Token), CancellationToken.None));
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
            if (what != "the row journal's lock") attempt.CancelAfter(ReadAttemptLimit);
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

    /// <summary>Reads the schema's labels and rows; in a term, starts it there. False, logged, when it cannot.</summary>
    private async Task<bool> TryLoadAsync(SchemaSlot slot, ReplicaTerm? term, CancellationToken ct)
    {
        var options = flashduty.Value;
        try
        {
            var info = await api.GetSchemaInfoAsync(slot.SchemaId, ct);
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

            var cap = options.RowCaps.GetValueOrDefault(slot.SchemaId, options.DefaultRowCap);
            var schema = new SchemaDefinition(slot.SchemaId, info.SchemaName, info.SourceLabels, info.ResultLabels, cap);
            if (term is null)
            {
                // Not active (yet): read to say now whether it can be; the term reads the rows again.
                var rows = await api.DownloadAsync(slot.SchemaId, schema.AllLabels.ToList(), ct);
                LogLoaded(schema, rows);
                slot.Definition = schema;
                slot.LoadProblem = null;
                return true;
            }

            var rowsNow = await api.DownloadAsync(slot.SchemaId, schema.AllLabels.ToList(), ct);
            var state = new SchemaSync(schema, api, sync.Value, inflow, refused, metrics, logger, time) { NotBefore = term.NotBefore };
            state.Load(rowsNow.Rows, term.Journal.For(slot.SchemaId));
            state.JournalPending = term.Committer!.Ring;
            LogLoaded(schema, rowsNow);
            lock (_termLock)
            {
                if (term.Ended.IsCancellationRequested) return true; // the term ended meanwhile: the next one reads it
                slot.Definition = schema;
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
            while (!await TryLoadAsync(slot, CurrentTerm(), ct));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private ReplicaTerm? CurrentTerm()
    {
        lock (_termLock) return _term is { Ended.IsCancellationRequested: false } t ? t : null;
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
        IReadOnlySet<string>? onlySchemas = null)
    {
        var term = CurrentTerm();
        var outcomes = new List<(string, Task<KeyOutcome>)>(_slots.Count);
        foreach (var slot in _slots)
        {
            if (onlySchemas is not null && !onlySchemas.Contains(slot.SchemaId)) continue;
            if (term is null || term.Closing)
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

    /// <summary>True once every event applied before the call is in the journal; false when the term ended first (apply again).</summary>
    public Task<bool> CommitAsync(CancellationToken ct) => CurrentTerm()?.Committer?.CommitAsync(ct) ?? Task.FromResult(false);

    /// <summary>
    /// The service stops: no new event is applied; what batches have applied is journaled; the writes in flight
    /// finish (aborted when the host's shutdown time runs out: see <see cref="SchemaSync.QuiesceAsync"/>); then the
    /// journal is released, cleanly when no request can still be in flight, so that the next holder need not wait.
    /// </summary>
    public async Task QuiesceAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        ReplicaTerm? term;
        lock (_termLock) term = _term;
        if (term is not null) await EndTermAsync(term, cancellationToken);
    }

    /// <summary>Ends the term cleanly: see <see cref="QuiesceAsync"/>.</summary>
    private async Task EndTermAsync(ReplicaTerm term, CancellationToken cancellationToken)
    {
        if (term.Lease.IsCancellationRequested) return;
        term.Closing = true;
        try
        {
            await term.Committer!.FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.JournalAppendFailed(logger, ex.Message, TimeSpan.Zero);
        }

        List<SchemaSync> schemas;
        lock (_termLock) schemas = [.. term.Schemas];
        await Task.WhenAll(schemas.Select(s => s.QuiesceAsync(cancellationToken)));
        var clean = schemas.All(s => s.Idle);
        Drop(term);
        await term.EndAsync();
        using var release = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await journal.ReleaseAsync(clean, release.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>
    /// Another replica, with events in hand, asks for the journal: this one, consuming nothing, lets go cleanly (its
    /// writes finish, what it applied is journaled), and does not take it again unless it gets events itself.
    /// </summary>
    private async Task YieldAsync()
    {
        ReplicaTerm? term;
        lock (_termLock) term = _term;
        if (term is null || term.Closing || inflow.ActiveBatches > 0 || _stopping.IsCancellationRequested) return;
        Log.HandingOver(logger);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await EndTermAsync(term, limit.Token).ConfigureAwait(false);
    }

    /// <summary>The journal's lock is lost: stop writing at once, drop the term; the next batch starts another.</summary>
    private async Task DemoteAsync(ReplicaTerm term, string why)
    {
        if (_stopping.IsCancellationRequested) return;
        Log.Demoted(logger, why);
        List<SchemaSync> schemas;
        lock (_termLock)
        {
            if (_term != term) return;
            schemas = [.. term.Schemas];
        }

        Drop(term);
        await Task.WhenAll(schemas.Select(s => s.AbortAsync()));
        await term.EndAsync();
        await journal.ReleaseAsync(clean: false, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Rows it journaled are written by whoever holds the journal next: this replica, unless a consuming one asks for it.
        if (_activateWithoutEvents) lock (_termLock) _ = Activating().ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
    }

    /// <summary>Nothing of the term is reachable any more: not its schemas, not the term. Leaves a newer term alone.</summary>
    private void Drop(ReplicaTerm term)
    {
        lock (_termLock)
        {
            if (_term == term) _term = null;
            foreach (var slot in _slots)
            {
                if (slot.Sync is { } sync && term.Schemas.Contains(sync)) slot.Sync = null;
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        ReplicaTerm? term;
        lock (_termLock) term = _term;
        Task[] tasks;
        lock (_probes) tasks = [.. _probes, .. term?.Tasks() ?? []];
        if (term is not null) await term.EndAsync();
        await Task.WhenAll(tasks).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
