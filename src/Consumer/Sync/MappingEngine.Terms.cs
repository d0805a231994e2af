namespace FlashdutySync.Sync;

/// <summary>
/// This replica's terms as the journal's holder (see <see cref="ReplicaTerm"/>): how one starts (activating), how it
/// ends cleanly (quiescing, or handing over to a replica with events in hand) and how it is lost (demoted).
/// </summary>
public sealed partial class MappingEngine
{
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

    private ReplicaTerm? CurrentTerm()
    {
        lock (_termLock) return _term is { Ended.IsCancellationRequested: false } t ? t : null;
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
}
