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
    public async Task<long> EnsureCurrentAsync(CancellationToken ct)
    {
        Task<ReplicaTerm> activating;
        lock (_termLock)
        {
            if (_term is { Ended.IsCancellationRequested: false, Closing: false } current) return current.Sequence;
            // This replica has events in hand: a holder that does not (it took the journal without consuming) is asked to let go.
            journal.HandoverWanted = true;
            activating = Activating();
        }

        return (await activating.WaitAsync(ct).ConfigureAwait(false)).Sequence;
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
    private Task<ReplicaTerm> Activating()
    {
        // None once stopping: the stop ends the activation it finds under way (QuiesceAsync), and no later one.
        if (_stopping.IsCancellationRequested) return Task.FromCanceled<ReplicaTerm>(_stopping.Token);
        // A start cut short (cancelled, failed) is tried again by the next batch, not cached as its outcome.
        if (_activating is { IsCompleted: true }) _activating = null;
        // Shared by every batch, so not bound to the first batch's token (a broker blip cancels that one).
        return _activating ??= ActivateAsync(_stopping.Token);
    }

    private async Task<ReplicaTerm> ActivateAsync(CancellationToken ct)
    {
        // No time limit: the lock is free only once the holder lets go.
        // The broker is tried again every second (it comes back in seconds, and batches in hand wait meanwhile, which
        // keeps MassTransit from consuming again); Flashduty every probe interval.
        var (lease, state) = await HoldAndLoadAsync(ct);
        // A holder that did not let go cleanly may still have a request in flight: the longest attempt; and, when it was
        // another process (cut off rather than killed, say), the time it takes to notice it lost the lock.
        var wait = state.CleanlyReleased ? TimeSpan.Zero
            : state.Term == _lastOwnTerm ? flashduty.Value.AttemptTimeout
            : flashduty.Value.AttemptTimeout + journal.LossDetection;
        var notBefore = time.GetUtcNow() + wait;
        // Taken back from its own term (demoted, or handed over and taken again): that term's own wait for an earlier
        // holder that did not let go is not over just because the term is.
        if (state.Term == _lastOwnTerm && _lastOwnNotBefore > notBefore) notBefore = _lastOwnNotBefore;
        var term = new ReplicaTerm(state.Term + 1, Interlocked.Increment(ref _terms), state, lease) { NotBefore = notBefore };
        (_lastOwnTerm, _lastOwnNotBefore) = (term.Number, notBefore);
        term.Committer = new JournalCommitter(journal, () => term.SchemasNow(_termLock), logger, time, BrokerRetry);
        term.Track(Task.Run(() => term.Committer.RunAsync(term.Ended), CancellationToken.None));
        // All at once, paced by the account limiter; one not readable before (no definition) is its probe's to load.
        // Stopped while the term starts: it is published all the same, for the stop to end it and let the journal go
        // (cleanly when nothing can be in flight, so that the next holder need not wait); its batches see the stop.
        var stopped = false;
        try
        {
            await Task.WhenAll(_slots.Where(slot => slot.Definition is not null).Select(slot => StartSchemaAsync(slot, term, ct)));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            stopped = true;
        }

        lock (_termLock)
        {
            _term = term;
            journal.HandoverWanted = false;
        }

        // A schema a probe read while the term started (it saw no term yet) is loaded into it now (no probe starts once stopping).
        foreach (var slot in _slots)
        {
            if (slot.Definition is not null && !term.Holds(slot, _termLock)) StartProbe(slot);
        }

        // Lost lock: demoted at once, whatever is in hand.
        lease.Register(() => _ = DemoteAsync(term, "the broker closed the journal's lock"));
        if (stopped)
        {
            Log.StoppedWhileActivating(logger, term.Number);
            ct.ThrowIfCancellationRequested();
        }

        var rows = state.Schemas.Where(s => !SchemaSync.IsTombstones(s.Key)).ToList();
        Log.Activated(logger, term.Number, rows.Sum(s => s.Value.Count), rows.Count, state.Schemas.Where(s => SchemaSync.IsTombstones(s.Key)).Sum(s => s.Value.Count),
            state.CleanlyReleased ? "let go cleanly" : $"did not let go cleanly (or there was none): writes wait {wait}", term.NotBefore);
        return term;
    }

    /// <summary>
    /// Takes the journal's lock and loads the journal under it. A lock lost during the load cuts it short: another
    /// replica may hold the lock by then and compact the journal, and a term started from a load racing that one
    /// would miss the records it read. The lock is taken again and the journal loaded again.
    /// </summary>
    private async Task<(CancellationToken Lease, JournalState State)> HoldAndLoadAsync(CancellationToken ct)
    {
        while (true)
        {
            var lease = await Retrying(journal.AcquireAsync, "the row journal's lock", ct, limited: false, every: BrokerRetry);
            using (var holding = CancellationTokenSource.CreateLinkedTokenSource(ct, lease))
            {
                try
                {
                    var state = await Retrying(journal.LoadAsync, "the row journal", holding.Token, every: BrokerRetry);
                    if (!lease.IsCancellationRequested) return (lease, state);
                }
                catch (OperationCanceledException) when (lease.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    // Stopped during the load: the lock goes now, not when the connection closes (not cleanly: the load
                    // may already have started this term in the journal).
                    using var release = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    await journal.ReleaseAsync(lease, clean: false, release.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    throw;
                }
            }

            Log.ReloadFailed(logger, "the row journal: its lock was lost while it loaded", BrokerRetry);
            await journal.ReleaseAsync(lease, clean: false, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await Task.Delay(BrokerRetry, time, ct);
        }
    }

    private static readonly TimeSpan BrokerRetry = TimeSpan.FromSeconds(1);
    private long _terms;
    private long _lastOwnTerm = -1;
    private DateTimeOffset _lastOwnNotBefore;

    /// <summary>Reads the schema's labels and rows again and starts it in the term; else its probe tries again.</summary>
    private async Task StartSchemaAsync(SchemaSlot slot, ReplicaTerm term, CancellationToken ct)
    {
        if (!await TryLoadAsync(slot, term, ct)) StartProbe(slot);
    }

    /// <summary>One probe per schema at a time: it reads the schema every probe interval until it is loaded (into the term, if there is one).</summary>
    private void StartProbe(SchemaSlot slot)
    {
        lock (_probes)
        {
            if (slot.Probing || _stopping.IsCancellationRequested) return;
            slot.Probing = true;
            _probes.Add(Task.Run(() => KeepLoadingAsync(slot, _stopping.Token), CancellationToken.None));
        }
    }

    private ReplicaTerm? CurrentTerm()
    {
        lock (_termLock) return _term is { Ended.IsCancellationRequested: false } t ? t : null;
    }

    /// <summary>
    /// True once every event applied in term <paramref name="term"/> (see <see cref="EnsureCurrentAsync"/>) before the
    /// call is in the journal; false when that term ended first (apply again in the next).
    /// </summary>
    public Task<bool> CommitAsync(long term, CancellationToken ct) =>
        CurrentTerm() is { } t && t.Sequence == term ? t.Committer!.CommitAsync(ct) : Task.FromResult(false);

    /// <summary>As <see cref="CommitAsync(long, CancellationToken)"/>, in whatever term is current.</summary>
    public Task<bool> CommitAsync(CancellationToken ct) => CurrentTerm() is { } t ? CommitAsync(t.Sequence, ct) : Task.FromResult(false);

    /// <summary>
    /// The service stops: no new event is applied; what batches have applied is journaled; the writes in flight
    /// finish (aborted when the host's shutdown time runs out: see <see cref="SchemaSync.QuiesceAsync"/>); then the
    /// journal is released, cleanly when no request can still be in flight, so that the next holder need not wait.
    /// </summary>
    public async Task QuiesceAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await ActivationEndedAsync(cancellationToken);
        ReplicaTerm? term;
        lock (_termLock) term = _term;
        if (term is not null) await EndTermAsync(term, cancellationToken);
    }

    /// <summary>
    /// Once stopping: the activation under way has ended. A term that was starting stops short and is published (see
    /// ActivateAsync), to be ended like any other.
    /// </summary>
    private async Task ActivationEndedAsync(CancellationToken cancellationToken)
    {
        Task? activating;
        lock (_termLock) activating = _activating;
        if (activating is not null) await activating.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Ends the term cleanly: see <see cref="QuiesceAsync"/>.</summary>
    private async Task EndTermAsync(ReplicaTerm term, CancellationToken cancellationToken)
    {
        List<SchemaSync> schemas;
        lock (_termLock)
        {
            if (term.Lease.IsCancellationRequested || term.Closing) return;
            // Under the lock that loads schemas into the term: none joins it once it closes.
            term.Closing = true;
            schemas = [.. term.Schemas];
        }

        var clean = false;
        try
        {
            await term.Committer!.FlushAsync(cancellationToken);
            await Task.WhenAll(schemas.Select(s => s.QuiesceAsync(cancellationToken)));
            // Within the wait for a predecessor that did not let go, its last request may still land: the next holder waits for it too.
            clean = schemas.All(s => s.Idle) && time.GetUtcNow() >= term.NotBefore;
        }
        catch (Exception ex)
        {
            // Not journaled, or a write not known to be over: released all the same, but not cleanly.
            Log.JournalAppendFailed(logger, ex.Message, TimeSpan.Zero);
            await Task.WhenAll(schemas.Select(s => s.AbortAsync()));
        }
        finally
        {
            Drop(term);
            await term.EndAsync();
            using var release = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            // "Released" only while the lock is still this term's: a lost lock may already have a successor.
            await journal.ReleaseAsync(term.Lease, clean && !term.Lease.IsCancellationRequested, release.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
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
        List<SchemaSync> schemas;
        lock (_termLock) schemas = [.. term.Schemas];
        // Whatever else happens (a quiesce under way, the service stopping), writes stop now.
        await Task.WhenAll(schemas.Select(s => s.AbortAsync()));
        lock (_termLock)
        {
            if (_term != term) return;
        }

        if (!_stopping.IsCancellationRequested) Log.Demoted(logger, why);

        Drop(term);
        await term.EndAsync();
        await journal.ReleaseAsync(term.Lease, clean: false, CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Rows it journaled are written by whoever holds the journal next: this replica, unless a consuming one asks for it.
        if (_activateWithoutEvents && !_stopping.IsCancellationRequested) lock (_termLock) _ = Activating().ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
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
