using System.Threading.Channels;
using FlashdutySync.Flashduty;

namespace FlashdutySync.Sync;

/// <summary>
/// Drift repair: the schema's rows downloaded again and compared with what the service wants them to be. A row an
/// event set that Flashduty holds otherwise (edited in the console, overwritten by a CSV upload, lost) or lacks is
/// written again; a row Flashduty holds that no event ever set is left alone, or deleted with <c>Sync:Prune</c>.
/// Runs in the schema's writer, between writes: the download and the repairs are the schema's single flight and go
/// through the account limiter like every request. A dry run compares and changes nothing.
/// </summary>
internal sealed partial class SchemaSync
{
    private readonly Channel<(bool DryRun, TaskCompletionSource<ReconcileReport> Done)> _reconciles = Channel.CreateUnbounded<(bool, TaskCompletionSource<ReconcileReport>)>();

    /// <summary>Queues a comparison for the writer; completes with what it found (and, unless a dry run, queued for repair).</summary>
    public Task<ReconcileReport> ReconcileAsync(bool dryRun, CancellationToken ct)
    {
        var done = new TaskCompletionSource<ReconcileReport>(TaskCreationOptions.RunContinuationsAsynchronously);
        _reconciles.Writer.TryWrite((dryRun, done));
        _signal.Writer.TryWrite(true);
        return done.Task.WaitAsync(ct);
    }

    /// <summary>Every <c>Sync:ReconcileInterval</c> of the term (none when zero): a repair run. The term's first comes one interval after its load.</summary>
    private async Task ReconcileEveryIntervalAsync(CancellationToken ct)
    {
        if (_options.ReconcileInterval <= TimeSpan.Zero) return;
        try
        {
            using var timer = new PeriodicTimer(_options.ReconcileInterval, _time);
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                // Its failure is logged where it is served; a term ending first cancels it.
                _ = ReconcileAsync(dryRun: false, ct).ContinueWith(t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>In the writer: serves the comparisons asked for since the last write.</summary>
    private async Task ServeReconcilesAsync(CancellationToken ct)
    {
        while (_reconciles.Reader.TryRead(out var asked))
        {
            if (_stopping)
            {
                asked.Done.TrySetCanceled(CancellationToken.None);
                continue;
            }

            try
            {
                var rows = await _api.DownloadAsync(Schema.SchemaId, _labels, ct).ConfigureAwait(false);
                var report = Compare(rows.Rows, asked.DryRun);
                if (!asked.DryRun)
                {
                    _metrics.ReconcileDifferent.Add(report.Missing + report.Differing + report.NotGone, Tag);
                    Log.Reconciled(_logger, Schema.SchemaId, rows.Rows.Count, report.Missing, report.Differing, report.NotGone, report.Foreign,
                        _options.Prune ? "queued for deletion (Sync:Prune)" : "left alone (Sync:Prune is off)");
                }

                asked.Done.TrySetResult(report);
            }
            catch (Exception ex) when (ex is FlashdutyApiException or DownloadFormatException or HttpRequestException)
            {
                Log.ReconcileFailed(_logger, Schema.SchemaId, ex.Message, _options.ReconcileInterval);
                asked.Done.TrySetException(ex);
            }
            catch (OperationCanceledException ex)
            {
                asked.Done.TrySetCanceled(ex.CancellationToken);
                throw;
            }
            catch (Exception ex)
            {
                asked.Done.TrySetException(ex); // answered, then the writer's supervisor reports it
                throw;
            }
        }
    }

    private KeyValuePair<string, object?> Tag => new("schema_id", Schema.SchemaId);

    /// <summary>
    /// Compares Flashduty's rows with the desired ones and, unless <paramref name="dryRun"/>, queues what differs for the
    /// writer. A row with a write queued or in flight is not compared (the write is on its way). A label no event set
    /// (it was read from Flashduty at the term's start) is not the service's to repair: Flashduty's value is taken.
    /// </summary>
    private ReconcileReport Compare(IReadOnlyList<Dictionary<string, string>> rows, bool dryRun)
    {
        var report = new ReconcileReport(Schema.SchemaId, rows.Count);
        lock (_sync)
        {
            var projected = _keys.Values.Count(k => k.Latest is not null);
            var remote = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
            foreach (var row in rows)
            {
                if (KeyOfDownloaded(row) is { } key) remote[key] = row;
            }

            foreach (var state in _keys.Values.ToList())
            {
                if (state.Pending is not null || state.InFlight is not null) continue;
                var held = remote.GetValueOrDefault(state.Key);
                var setByEvents = state.DeletedAt is not null || state.Labels.Values.Any(s => s.At != DateTimeOffset.MinValue);
                if (!setByEvents)
                {
                    // Read from Flashduty, never set by an event: Flashduty's to change, pruned if asked.
                    if (held is not null) Foreign(state, held, dryRun, report);
                    else if (state.Confirmed is not null && !dryRun) Forget(state);
                    continue;
                }

                var target = TargetOf(state);
                if (target is null)
                {
                    if (state.DeletedAt is null || held is null) continue; // incomplete (its events wait), or gone as wanted
                    report.NotGone++;
                    report.List(Display(state.Key), "decommissioned, still in Flashduty: delete it");
                    if (!dryRun) Repair(state, held, null);
                    continue;
                }

                // Labels no event set follow Flashduty.
                var wanted = new Dictionary<string, string>(target, StringComparer.Ordinal);
                if (held is not null)
                {
                    foreach (var label in _labels.Where(l => state.Labels[l].At == DateTimeOffset.MinValue)) wanted[label] = held[label];
                }

                if (Rows.Same(wanted, held))
                {
                    if (!dryRun) Adopt(state, held!, onlyUnset: true); // Flashduty's value of a label no event set, taken
                    continue;
                }

                if (held is null && projected >= Schema.RowCap)
                {
                    // Not queued: Flashduty would refuse it (someone filled the schema since), and the refusal would undo the row.
                    report.Missing++;
                    report.List(Display(state.Key), $"missing from Flashduty, but the schema holds its cap of {Schema.RowCap} rows: not written");
                    continue;
                }

                if (held is null) (report.Missing, projected) = (report.Missing + 1, projected + 1);
                else report.Differing++;
                report.List(Display(state.Key), held is null
                    ? "missing from Flashduty: write it"
                    : string.Join(", ", _labels.Where(l => held[l] != wanted[l]).Select(l => $"{l} is '{held[l]}', should be '{wanted[l]}'")));
                if (!dryRun) Repair(state, held, wanted);
            }

            foreach (var (key, row) in remote)
            {
                // A row the service never saw, also one of a host decommissioned once (it may be provisioned again since): not its own.
                if (_keys.ContainsKey(key)) continue;
                Foreign(dryRun ? null : NewKey(key), row, dryRun, report, key);
            }

            _projectedRows = _keys.Values.Count(k => k.Latest is not null);
        }

        return report;
    }

    /// <summary>A row Flashduty holds that no event set: deleted with <c>Sync:Prune</c>, else taken as it is. Under the lock.</summary>
    private void Foreign(KeyState? state, IReadOnlyDictionary<string, string> held, bool dryRun, ReconcileReport report, string? key = null)
    {
        report.Foreign++;
        if (_options.Prune) report.List(Display(state?.Key ?? key!), "no event set it: delete it (Sync:Prune)");
        if (dryRun || state is null) return;
        if (_options.Prune) Prune(state, held);
        else Adopt(state, held);
    }

    /// <summary>Flashduty's row becomes what the service knows it holds, and the desired one is queued. Under the lock.</summary>
    private void Repair(KeyState state, IReadOnlyDictionary<string, string>? held, IReadOnlyDictionary<string, string>? wanted)
    {
        state.Confirmed = held;
        Requeue(state, wanted, []);
        state.Repair = RepairKind.Rewrite;
    }

    /// <summary>A row no event set, deleted. Its labels are forgotten: an event creating the key later starts from nothing. Under the lock.</summary>
    private void Prune(KeyState state, IReadOnlyDictionary<string, string> held)
    {
        state.Labels.Clear();
        state.Confirmed = held;
        Requeue(state, null, []);
        state.Repair = RepairKind.Prune;
    }

    /// <summary>A row no event set, as Flashduty now holds it. Under the lock.</summary>
    private void Adopt(KeyState state, IReadOnlyDictionary<string, string> held, bool onlyUnset = false)
    {
        state.Confirmed = held;
        foreach (var label in _labels)
        {
            if (!onlyUnset || state.Labels[label].At == DateTimeOffset.MinValue) state.Labels[label] = new Stamped(held[label], DateTimeOffset.MinValue);
        }
    }

    /// <summary>
    /// A row no event set, gone from Flashduty: its key is dropped (it was never journaled), unless something of it
    /// still waits for the journal. Under the lock.
    /// </summary>
    private void Forget(KeyState state)
    {
        state.Confirmed = null;
        state.RemoteKey = null;
        state.Labels.Clear();
        if (state.Unjournaled.Count > 0 || state.CopiesSettled || _unjournaled.Contains(state)) return;
        DropKey(state);
    }

    /// <summary>A repair's write landed: counted. Under the lock.</summary>
    private void RepairLanded(KeyState state)
    {
        if (state.Repair == RepairKind.None) return;
        (state.Repair == RepairKind.Prune ? _metrics.ReconcilePruned : _metrics.ReconcileRepaired).Add(1, Tag);
        state.Repair = RepairKind.None;
    }
}

internal enum RepairKind
{
    None,
    Rewrite,
    Prune,
}

/// <summary>What one comparison found in a schema; <see cref="Differences"/> lists the first few rows (never a secret).</summary>
public sealed class ReconcileReport(string schemaId, int rowsInFlashduty)
{
    public string SchemaId { get; } = schemaId;
    public int RowsInFlashduty { get; } = rowsInFlashduty;

    /// <summary>Rows an event set that Flashduty lacks.</summary>
    public int Missing { get; set; }

    /// <summary>Rows Flashduty holds with other values than the events set.</summary>
    public int Differing { get; set; }

    /// <summary>Rows of decommissioned hosts Flashduty still holds.</summary>
    public int NotGone { get; set; }

    /// <summary>Rows Flashduty holds that no event set: left alone, or deleted with <c>Sync:Prune</c>.</summary>
    public int Foreign { get; set; }

    private const int Listed = 50;

    public List<string> Differences { get; } = [];

    public int Unlisted { get; private set; }

    internal void List(string key, string what)
    {
        if (Differences.Count < Listed) Differences.Add($"{key}: {what}");
        else Unlisted++;
    }
}
